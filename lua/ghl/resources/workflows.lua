--- client.workflows (spec: apps/workflows.json). Enrolment lives in the
-- contacts endpoints; these are shortcuts to them.
--
--   workflows:list()                                   the location's workflows
--   workflows:add_contact(workflow_id, contact_id, fields?)   fields: eventStartTime
--   workflows:remove_contact(workflow_id, contact_id)
local resource = require "ghl.resource"
local check = require "ghl.check"

local Workflows = resource.define("workflows", {
  list = { op = "workflows.get-workflow", returns = "workflows", doc = "The workflows of the location." },
})

resource.about(Workflows, [[
The location's workflows, and enrolling contacts in them (shortcuts to the contacts operations,
workflow first).]])

local enrol = resource.define("workflows.enrol", {
  add = { op = "contacts.add-contact-to-workflow", args = { "contactId", "workflowId" }, body = "optional",
          returns = true },
  remove = { op = "contacts.delete-contact-from-workflow", args = { "contactId", "workflowId" }, returns = true },
})

--- Enrol a contact in a workflow.
function Workflows:add_contact(workflow_id, contact_id, fields)
  check.self(self, Workflows, "workflows:add_contact")
  check.id(workflow_id, "workflows:add_contact", "workflowId")
  return enrol.new(self.client):add(contact_id, workflow_id, fields)
end

--- Take a contact out of a workflow.
function Workflows:remove_contact(workflow_id, contact_id)
  check.self(self, Workflows, "workflows:remove_contact")
  check.id(workflow_id, "workflows:remove_contact", "workflowId")
  return enrol.new(self.client):remove(contact_id, workflow_id)
end

local function path_params()
  return { { "workflowId", "string", "the `{workflowId}` of the path: the workflow id" },
           { "contactId", "string", "the `{contactId}` of the path: the contact id" } }
end
local add_params = path_params()
add_params[3] = { "fields", "table", "the JSON body", opt = true }
resource.doc(Workflows, "add_contact", {
  op = "contacts.add-contact-to-workflow", args = { "contactId", "workflowId" }, returns = true, body = "optional",
  doc = "Enrol a contact in a workflow: `contacts:add_to_workflow`, workflow first. `eventStartTime` sets when" ..
    " the workflow starts for the contact.",
  params = add_params,
  example = "assert(client.workflows:add_contact(workflow_id, contact_id))",
})
resource.doc(Workflows, "remove_contact", {
  op = "contacts.delete-contact-from-workflow", args = { "contactId", "workflowId" }, returns = true,
  doc = "Take a contact out of a workflow: `contacts:remove_from_workflow`, workflow first.",
  params = path_params(),
  example = "assert(client.workflows:remove_contact(workflow_id, contact_id))",
})

return Workflows
