-- Send an SMS to a contact.
--
--   GHL_CONTACT_ID picks the contact (it needs a phone); otherwise the first
--   contact that has one is used. GHL_MESSAGE sets the text.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")

support.run(function(client)
  local contact_id = os.getenv("GHL_CONTACT_ID")
  if not contact_id then
    for c in client.contacts:each{ pageLimit = 100 } do
      if c.phone and c.phone ~= support.ghl.null then contact_id = c.id break end
    end
    assert(contact_id, "no contact with a phone number")
  end
  local sent = assert(client.conversations:send{
    type = "SMS", contactId = contact_id, message = os.getenv("GHL_MESSAGE") or "Hello from ghl!",
  })
  print(("sent message %s in conversation %s to contact %s"):format(
    tostring(sent.messageId), tostring(sent.conversationId), contact_id))
end)
