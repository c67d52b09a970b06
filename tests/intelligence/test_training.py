import pytest
import time_machine
from django.core.management import call_command

from intelligence import training
from intelligence.models import PredictionModel
from mission_control.errors import DomainError
from tests.intelligence.conftest import NOW


@pytest.fixture
def trained(business, degrading_history):
    with time_machine.travel(NOW, tick=False):
        model, created = training.train(business=business)
    assert created
    return model


@pytest.mark.django_db
def test_it_beats_the_recent_failure_rate_on_the_later_data(trained):
    assert trained.train_samples > trained.test_samples > 200
    assert trained.data_from < trained.split_at < trained.data_until
    assert trained.metrics["roc_auc"] > trained.baseline_metrics["roc_auc"]
    assert trained.metrics["brier"] < trained.baseline_metrics["brier"]
    assert trained.beats_baseline and trained.in_use
    assert "Beats the baseline" in trained.verdict


@pytest.mark.django_db
def test_it_trains_nothing_new_when_the_ledger_has_not_changed(business, trained):
    with time_machine.travel(NOW, tick=False):
        again, created = training.train(business=business)
    assert (again.pk, created) == (trained.pk, False)
    assert PredictionModel.objects.filter(business=business).count() == 1


@pytest.mark.django_db
def test_it_refuses_a_business_with_too_little_history(business, fleet):
    with pytest.raises(DomainError) as refused:
        training.train(business=business)
    assert refused.value.code == "insufficient_history"
    assert not PredictionModel.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_stored_model_whose_signature_does_not_hold(trained):
    PredictionModel.objects.filter(pk=trained.pk).update(signature="0" * 64)
    training._LOADED.clear()
    with pytest.raises(DomainError) as refused:
        training.estimator(PredictionModel.objects.get(pk=trained.pk))
    assert refused.value.code == "model_unavailable"


@pytest.mark.django_db
def test_it_does_not_use_a_model_that_does_not_beat_the_baseline(business, fleet):
    from tests.intelligence.conftest import write_ledger

    write_ledger(business, {agent: [] for agent in fleet})  # failures at random: nothing to learn
    with time_machine.travel(NOW, tick=False):
        model, _ = training.train(business=business)
    assert not model.beats_baseline and not model.in_use
    assert model.verdict.startswith("Does not beat the baseline")


@pytest.mark.django_db
def test_the_command_prints_the_metrics_beside_the_baseline(business, degrading_history, capsys):
    with time_machine.travel(NOW, tick=False):
        call_command("train_failure_model", "--business", business.slug)
    out = capsys.readouterr().out
    assert "[" + "#" * training_bar() + "]" in out
    assert "model " in out and "baseline " in out and "ROC AUC" in out
    assert PredictionModel.objects.get(business=business).version == 1


def training_bar() -> int:
    from intelligence.management.commands.train_failure_model import BAR

    return BAR
