--- client.workflows (spec: apps/workflows.json). Enrolment lives in the
-- contacts endpoints; these are shortcuts to them.
--
--   workflows:list()                                   the location's workflows
--   workflows:add_contact(workflow_id, contact_id, fields?)   fields: eventStartTime
--   workflows:remove_contact(workflow_id, contact_id)
local resource = require "ghl.resource"
local check = require "ghl.check"

local Workflows = resource.define("workflows", {
  list = { op = "workflows.get-workflow", returns = "workflows" },
})

local enrol = resource.define("workflows.enrol", {
  add = { op = "contacts.add-contact-to-workflow", args = { "contactId", "workflowId" }, body = "optional",
          returns = true },
  remove = { op = "contacts.delete-contact-from-workflow", args = { "contactId", "workflowId" }, returns = true },
})

function Workflows:add_contact(workflow_id, contact_id, fields)
  check.self(self, Workflows, "workflows:add_contact")
  check.id(workflow_id, "workflows:add_contact", "workflowId")
  return enrol.new(self.client):add(contact_id, workflow_id, fields)
end

function Workflows:remove_contact(workflow_id, contact_id)
  check.self(self, Workflows, "workflows:remove_contact")
  check.id(workflow_id, "workflows:remove_contact", "workflowId")
  return enrol.new(self.client):remove(contact_id, workflow_id)
end

return Workflows
