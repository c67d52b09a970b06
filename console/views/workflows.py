"""``/global/workflows``: the workflow builder. Define steps and dependencies (the definition is
checked by ``workflows.definitions.validate_definition``, the API's own check, and drawn as a DAG),
run a workflow, and watch a run's steps change live.

Reads go through ``workflows.selectors``; creating, editing, running, cancelling and re-running post
to ``/api/v1/workflows/...`` and ``/api/v1/workflow-runs/...``.
"""

import json

from django.views.decorators.http import require_POST

from agents.models import Agent
from console.dag import layout
from console.views.base import console_page, fragment, page
from governance.roles import Role
from mission_control import json_limits
from mission_control.errors import DomainError
from mission_control.params import id_or_none
from workflows import definitions, selectors

RUN_LIMIT = 15
PREVIEW = "console/workflows/_preview.html"
EXAMPLE = {
    "steps": [
        {"id": "classify", "capability": "classify", "input": {"text": {"$ref": "input.text"}}},
        {
            "id": "escalate",
            "capability": "support",
            "depends_on": ["classify"],
            "when": "steps.classify.output.label == 'urgent'",
        },
        {"id": "summarise", "capability": "summarise", "depends_on": ["classify"]},
    ]
}


def _agent_names(scope) -> dict:
    return dict(Agent.objects.for_business_ids(scope.ids).values_list("id", "name"))


@console_page
def workflow_list(request):
    scope = request.mc_scope
    business = scope.current.slug if scope.current else None
    flows = list(selectors.workflows(user=request.user, business=business).order_by("name"))
    chosen = request.GET.get("workflow", "")
    workflow = next((f for f in flows if str(f.pk) == chosen), flows[0] if flows else None)
    names = _agent_names(scope)
    context = {
        "flows": flows,
        "workflow": workflow,
        "admin_businesses": [
            b for b in scope.businesses if b.pk in scope.ids and scope.can(b.pk, Role.ADMIN)
        ],
        "example": json.dumps(EXAMPLE, indent=2),
    }
    if workflow is not None:
        runs = list(selectors.workflow_runs(user=request.user, workflow=workflow).order_by("-id")[:RUN_LIMIT])
        run_id = request.GET.get("run", "")
        run = next((r for r in runs if str(r.pk) == run_id), None)
        if run is None and (wanted := id_or_none(run_id)) is not None:
            run = selectors.get_workflow_run(user=request.user, pk=wanted)  # 404 if not theirs
            if run.workflow_id != workflow.pk:
                run = None
        statuses = {s.step_id: s.status for s in run.steps.all()} if run else {}
        steps = (run.version.definition if run else workflow.definition)["steps"]
        context.update(
            runs=runs,
            run=run,
            run_steps=sorted(run.steps.all(), key=lambda s: s.position) if run else [],
            dag=layout(steps, statuses=statuses, agent_names=names),
            definition_json=json.dumps(workflow.definition, indent=2),
            can_operate=scope.can(workflow.business_id, Role.OPERATOR),
            can_admin=scope.can(workflow.business_id, Role.ADMIN),
        )
        if request.htmx and request.GET.get("panel") == "run":
            return fragment(request, "console/workflows/_run.html", context)
    return page(request, "console/workflows/page.html", context, active="workflows")


@require_POST
@console_page
def workflow_preview(request):
    """Validate a definition exactly as the API will, and draw it (or say which step is wrong)."""
    business = request.mc_scope.business(request.POST.get("business", ""))
    try:
        definition = json_limits.loads(request.POST.get("definition", ""))  # depth and text bounded
    except ValueError as exc:
        return fragment(request, PREVIEW, {"error": f"Not valid JSON: {exc}"})
    try:
        normalised = definitions.validate_definition(definition, business=business)
    except DomainError as exc:
        return fragment(request, PREVIEW, {"error": str(exc.detail), **exc.extra})
    dag = layout(normalised["steps"], agent_names=_agent_names(request.mc_scope))
    return fragment(request, PREVIEW, {"dag": dag, "count": len(normalised["steps"])})
