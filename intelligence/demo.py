"""Demo seed for intelligence: train each demo business's failure model on the history the earlier
seeds wrote, score it, and refresh the advice, through the same services as beat and the command
(nothing here is made up: a business whose history cannot train a model is told so)."""

from intelligence import scoring, suggestions, training
from mission_control.errors import DomainError


def seed(context: dict) -> None:
    out = context["stdout"]
    for business in context.get("businesses", []):
        try:
            model, _ = training.train(business=business)
        except DomainError as exc:
            out.write(f"  {business.slug}: no failure model ({exc.detail})")
            continue
        scored = scoring.score_business(business=business)
        advice = suggestions.refresh(business=business)
        out.write(
            f"  {business.slug}: failure model v{model.version} ({model.verdict}); {scored['scored']} subjects "
            f"scored, {scored['at_risk']} at risk; {advice['found']} suggestions"
        )
