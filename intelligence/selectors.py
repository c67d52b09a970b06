"""Reads of predictions and model versions, scoped to what the caller may see. The pages and the
API read through these, so a probability or a metric reads the same everywhere."""

from django.db.models import QuerySet

from governance.access import visible_businesses
from intelligence.models import Prediction, PredictionModel, SubjectKind


def predictions(*, business_ids, kind: str | None = None, at_risk: bool | None = None) -> QuerySet:
    """Current scores of the models in use, highest probability first."""
    qs = Prediction.objects.filter(business_id__in=business_ids, model__in_use=True).select_related(
        "business", "model"
    )
    if kind:
        qs = qs.filter(kind=kind)
    if at_risk is not None:
        qs = qs.filter(at_risk=at_risk)
    return qs.order_by("-probability", "subject")


def at_risk_agents(*, business_ids, limit: int = 10) -> list[Prediction]:
    return list(predictions(business_ids=business_ids, kind=SubjectKind.AGENT, at_risk=True)[:limit])


def model_versions(*, business_ids) -> QuerySet:
    return (
        PredictionModel.objects.filter(business_id__in=business_ids)
        .select_related("business")
        .defer("artifact")
        .order_by("business__slug", "-version")
    )


def model_status(*, business_ids) -> list[dict]:
    """Per business: the model in use (or none) and the newest version's verdict, for the pages."""
    newest: dict[int, PredictionModel] = {}
    in_use: dict[int, PredictionModel] = {}
    for model in model_versions(business_ids=business_ids):
        newest.setdefault(model.business_id, model)
        if model.in_use:
            in_use[model.business_id] = model
    return [
        {"business": m.business, "newest": m, "in_use": in_use.get(m.business_id)} for m in newest.values()
    ]


def business_ids_for(user, slug: str | None = None) -> list[int]:
    qs = visible_businesses(user)
    return list((qs.filter(slug=slug) if slug else qs).values_list("pk", flat=True))
