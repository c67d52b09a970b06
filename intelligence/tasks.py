"""Celery entry points: each calls a service."""

from celery import shared_task

from governance.models import Business
from intelligence import scoring, suggestions, training
from mission_control.errors import DomainError


@shared_task(acks_late=True, soft_time_limit=100, time_limit=115, expires=110)
def score_failures() -> dict:
    return scoring.score_all()


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900, expires=3600)
def train_failure_models() -> dict:
    """Retrain every business (idempotent: an unchanged ledger trains nothing)."""
    versions = {}
    for business in Business.objects.order_by("pk"):
        try:
            model, _ = training.train(business=business)
        except DomainError as exc:
            versions[business.slug] = exc.code
            continue
        versions[business.slug] = model.version
    return versions


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660, expires=3000)
def refresh_suggestions() -> dict:
    return suggestions.refresh_all()
