"""What the simulated agents say and do: prompts, tool calls, provider calls, failures.

Plain data and small pure functions (seeded ``random.Random``) so a run looks like real work:
a prompt, a provider API call, a tool or two, a completion, usage in tokens, and now and then a
realistic failure.
"""

from __future__ import annotations

import random

PROVIDER_ENDPOINTS = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "anthropic": "https://api.anthropic.com/v1/messages",
    "google": "https://generativelanguage.googleapis.com/v1beta/models:generateContent",
}

# capability -> (prompts, tools, completions); the n-th completion answers the n-th prompt
WORK = {
    "triage": (
        [
            "Classify this support ticket: 'Checkout fails with error 502 since this morning'.",
            "Classify: 'How do I export my invoices as CSV?'",
            "Classify this ticket and set its priority: 'Account locked after password reset'.",
        ],
        [("crm.lookup_customer", {"email": "dana@example.com"}), ("kb.search", {"query": "invoice export"})],
        [
            "Label: urgent. Payment path down for several customers.",
            "Label: question. Pointed to the export guide.",
            "Label: normal, priority high. Identity team to unlock the account.",
        ],
    ),
    "support": (
        [
            "Draft a reply to ticket #{n} explaining how to rotate an API key.",
            "Answer the customer on ticket #{n}: refund status for order A-{n}.",
        ],
        [("kb.search", {"query": "rotate api key"}), ("orders.get", {"order": "A-1042"})],
        ["Hi Dana, you can rotate your key under Settings → API…", "Your refund was issued on Monday…"],
    ),
    "docs": (
        ["Update the changelog for release 2.{n}.", "Write the 'Getting started' section for the v2 API."],
        [("git.read_file", {"path": "docs/changelog.md"}), ("git.open_pr", {"branch": "docs/v2"})],
        ["Added 3 entries to the changelog.", "Drafted 640 words with two code samples."],
    ),
    "code": (
        [
            "Review pull request #{n}: 'Add retry to payment webhook'.",
            "Find the cause of flaky test test_checkout.",
        ],
        [("github.get_pull_request", {"number": 4821}), ("sandbox.run_tests", {"path": "tests/payments"})],
        [
            "2 comments: missing jitter on retry; test for 429 path.",
            "Race on the shared fixture; proposed a fix.",
        ],
    ),
    "research": (
        [
            "Summarise three recent papers on retrieval-augmented generation.",
            "Compare pricing of 4 vector DBs.",
        ],
        [
            ("web.search", {"q": "RAG evaluation 2025"}),
            ("web.fetch", {"url": "https://arxiv.org/abs/2501.01234"}),
        ],
        [
            "Three papers, key findings and caveats in a table.",
            "Comparison table with monthly cost at 10M vectors.",
        ],
    ),
    "ops": (
        [
            "Check the error rate of checkout-service over the last 15 minutes.",
            "Is disk usage on db-2 trending up?",
        ],
        [("prometheus.query", {"expr": "rate(http_errors_total[5m])"}), ("pagerduty.list_incidents", {})],
        ["Error rate 0.4 %, within SLO. No action.", "Disk at 71 %, +2 %/day: ticket opened."],
    ),
    "sql": (
        ["Weekly revenue by region for the last 8 weeks.", "Which customers churned last month and why?"],
        [("warehouse.query", {"sql": "SELECT region, sum(amount) FROM orders GROUP BY 1"})],
        ["EMEA +6 %, NA flat, APAC +11 %.", "41 churned; top reason: pricing (38 %)."],
    ),
    "summarize": (
        [
            "Summarise yesterday's experiment logs for the eval team.",
            "Summarise the incident report INC-{n}.",
        ],
        [("storage.read", {"bucket": "lab-logs", "key": "2025/run-17.jsonl"})],
        [
            "Run 17 beat baseline by 3.1 points on the held-out set.",
            "Root cause: expired certificate on the proxy.",
        ],
    ),
    "eval": (
        [
            "Run the regression eval suite against checkpoint ckpt-{n}.",
            "Score 200 answers with the rubric v3.",
        ],
        [("eval.run_suite", {"suite": "regression-v4"}), ("gpu.allocate", {"gpus": 1})],
        ["Accuracy 87.2 % (+0.8), no regressions.", "Mean rubric score 4.1 / 5."],
    ),
}
WORK["classify"] = WORK["triage"]
WORK["write"] = WORK["docs"]
WORK["review"] = WORK["code"]
WORK["web"] = WORK["research"]
WORK["monitor"] = WORK["ops"]
WORK["analytics"] = WORK["sql"]

FAILURES = [
    ("provider_rate_limit", "429 from the model provider: rate limit reached for requests per minute."),
    ("tool_timeout", "Tool call timed out after 30 s."),
    ("context_length", "Prompt exceeds the model's context window (132,418 tokens)."),
    ("invalid_output", "The model's answer did not match the output schema: missing field 'label'."),
    ("upstream_error", "Upstream service returned 503 Service Unavailable."),
]


def plan(rng: random.Random, capabilities: list[str], model: str, provider: str, given: dict | None) -> dict:
    """One piece of work: prompt, tool calls, completion, usage and whether it will fail."""
    known = [c for c in capabilities if c in WORK] or ["research"]
    prompts, tools, completions = WORK[rng.choice(known)]
    n = rng.randint(100, 9999)
    pick = rng.randrange(len(prompts))
    prompt, completion = prompts[pick].format(n=n), completions[pick].format(n=n)
    if given:
        prompt = f"{prompt}\nInput: {str(given)[:300]}"
    input_tokens = rng.randint(350, 6500)
    # Anthropic and OpenAI bill prompt-cache reads separately; they are part of input tokens.
    cached = (
        rng.randint(0, input_tokens // 2) if provider in ("anthropic", "openai") and rng.random() < 0.4 else 0
    )
    failure = rng.choice(FAILURES) if rng.random() < 0.08 else None
    # A triage answer starts with its label ("Label: urgent. ..."): the output's label says the same.
    label = (
        completion.removeprefix("Label: ").split(".")[0].split(",")[0]
        if completion.startswith("Label:")
        else None
    )
    return {
        "prompt": prompt,
        "tools": rng.sample(tools, k=min(len(tools), rng.randint(1, 2))),
        "completion": completion,
        "input_tokens": input_tokens,
        "output_tokens": rng.randint(60, 1400),
        "cache_read_tokens": cached,
        "failure": failure,
        "output": {
            **({"label": label} if label else {}),
            "answer": completion,
            "confidence": round(rng.uniform(0.6, 0.99), 2),
        },
        "model": model,
        "provider": provider,
    }


def api_call_entry(rng: random.Random, provider: str, model: str, status: int = 200) -> dict:
    return {
        "kind": "api_call",
        "level": "info" if status < 400 else "error",
        "message": f"POST {PROVIDER_ENDPOINTS.get(provider, 'https://llm.example.com/v1')} -> {status}",
        "data": {"model": model, "status": status, "latency_ms": rng.randint(180, 4200)},
    }


def tool_entry(rng: random.Random, name: str, args: dict) -> dict:
    return {
        "kind": "tool_call",
        "level": "info",
        "message": name,
        "data": {"args": args, "duration_ms": rng.randint(20, 2500), "ok": True},
    }
