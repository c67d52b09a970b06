"""Demo seed for the brain: runbooks, policies and two agents' memories in the demo businesses,
written through ``write_document`` as live work is. Idempotent (a document whose key exists in its
scope is left alone). Runs after the agents seed, whose agents it finds in the shared context."""

from brain.models import BrainDocument
from brain.services import write_document
from governance.models import Business

# business slug, agent name (None: shared by the business), key, title, tags, body
BRAIN = [
    ("demo", None, "runbooks/password-reset", "Password reset runbook", ["support", "runbook"],
     "1. Check the account is not locked by fraud rules (CRM flag `fraud_hold`).\n"
     "2. Send the reset link from the admin console; links expire after 30 minutes.\n"
     "3. If the customer never receives it, check the bounce list before resending.\n"
     "Escalate to the identity team when SSO is enabled for the customer's domain."),
    ("demo", None, "policies/refunds", "Refund policy", ["support", "billing", "policy"],
     "Refunds under $50 are approved automatically within 14 days of the charge.\n"
     "Between $50 and $500 a support lead approves; above $500, finance does.\n"
     "Never refund a chargeback twice: check the payment provider's dispute list first."),
    ("demo", None, "style/replies", "How we write to customers", ["support", "style"],
     "Greet by first name, answer in the first sentence, link the guide, sign with the team name.\n"
     "No blame, no jargon, no promises of dates the product team has not given."),
    ("demo", "code-reviewer", "memory/billing-service", "Notes on billing-service", ["code"],
     "Retries must use jittered backoff (see PR 4821).\n"
     "The 429 path of the payment webhook has no test yet; ask for one on every PR touching it."),
    ("demo", "ops-sentinel", "memory/slo", "Service level objectives", ["ops"],
     "checkout-service: 99.9% of requests under 800 ms, error rate under 0.5% over 15 minutes.\n"
     "db-2 disk: open a ticket above 70%, page above 85%."),
    ("labs", None, "evals/regression-suite", "Regression eval suite", ["eval"],
     "regression-v4: 1,200 held-out questions, scored by rubric v3.\n"
     "A checkpoint ships only with no category more than 1 point below the previous one."),
]  # fmt: skip


def seed(context: dict) -> None:
    businesses = {b.slug: b for b in Business.objects.filter(slug__in={row[0] for row in BRAIN})}
    agents = {(a.business.slug, a.name): a for a in context.get("agents", [])}
    admin = context.get("admin")
    made = 0
    for slug, agent_name, key, title, tags, body in BRAIN:
        business = businesses.get(slug)
        agent = agents.get((slug, agent_name)) if agent_name else None
        if business is None or (agent_name and agent is None):
            continue
        if BrainDocument.objects.filter(business=business, agent=agent, key=key).exists():
            continue
        write_document(
            business=business, agent=agent, key=key, title=title, body=body, tags=tags, actor=admin
        )
        made += 1
    context["stdout"].write(
        f"  Brain: {made} documents written" if made else "  Brain: kept the existing documents"
    )
