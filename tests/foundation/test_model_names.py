"""The admin names every model in plain English: "Task dependencies", not "Task dependencys"."""

import re

from django.apps import apps

from tests.foundation.apps import project_apps


def english_plural(name: str) -> str:
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


def test_it_names_every_model_in_the_plural_properly():
    wrong = {}
    ours = set(project_apps())
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in ours:
            continue
        plural = str(meta.verbose_name_plural)
        # Names that are already plural ("agent run settings") stay as they are.
        if plural != str(meta.verbose_name) and plural != english_plural(str(meta.verbose_name)):
            wrong[meta.label] = plural
    assert not wrong, wrong
