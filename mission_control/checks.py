from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def embedded_default_in_production(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    problems = []
    if not settings.IS_POSTGRES:
        problems.append(
            Warning(
                "DEBUG=0 without DATABASE_URL: production should run on PostgreSQL.",
                id="mission_control.W001",
            )
        )
    if not settings.REDIS_URL:
        problems.append(
            Warning(
                "DEBUG=0 without REDIS_URL: the broker and channel layer are in-process only.",
                id="mission_control.W002",
            )
        )
    return problems
