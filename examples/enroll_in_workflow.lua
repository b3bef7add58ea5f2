-- Add a contact to a workflow.
--
--   GHL_WORKFLOW_ID and GHL_CONTACT_ID pick them; otherwise the first published
--   workflow and a new contact are used.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")

support.run(function(client)
  local workflow_id = os.getenv("GHL_WORKFLOW_ID")
  if not workflow_id then
    for _, w in ipairs(assert(client.workflows:list())) do
      if w.status == "published" or not workflow_id then workflow_id = w.id end
      if w.status == "published" then break end
    end
    assert(workflow_id, "the location has no workflow")
  end
  local contact_id = os.getenv("GHL_CONTACT_ID")
  if not contact_id then
    contact_id = assert(client.contacts:create{ firstName = "Enrolled", lastName = "Example",
      email = ("enrolled.%d@example.com"):format(os.time()) }).id
  end
  assert(client.workflows:add_contact(workflow_id, contact_id))
  print(("enrolled contact %s in workflow %s"):format(contact_id, workflow_id))
end)
