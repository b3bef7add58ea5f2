-- Move an open opportunity to the next stage of its pipeline.
--
--   GHL_OPPORTUNITY_ID picks it; otherwise the first open opportunity is used.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")

support.run(function(client)
  local opp
  local id = os.getenv("GHL_OPPORTUNITY_ID")
  if id then
    opp = assert(client.opportunities:get(id))
  else
    opp = client.opportunities:each{ status = "open", limit = 20, max_items = 1 }()
    assert(opp, "no open opportunity")
  end

  local stages
  for _, p in ipairs(assert(client.opportunities:pipelines())) do
    if p.id == opp.pipelineId then stages = p.stages end
  end
  assert(stages, "pipeline " .. tostring(opp.pipelineId) .. " not found")
  table.sort(stages, function(a, b) return (a.position or 0) < (b.position or 0) end)

  local next_stage
  for i, s in ipairs(stages) do
    if s.id == opp.pipelineStageId then next_stage = stages[i + 1] end
  end
  if not next_stage then
    print(("opportunity %s is already in the last stage"):format(opp.id))
    return
  end
  local moved = assert(client.opportunities:update(opp.id, { pipelineStageId = next_stage.id }))
  print(("moved opportunity %s (%s) to stage %q"):format(moved.id, moved.name or "", next_stage.name))
end)
