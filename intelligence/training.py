"""Training a business's failure model: samples from its ledger, a time split, metrics beside the
naive baseline, and a stored version that is used only when it beats that baseline.

Every finished execution of an agent is a sample: the features as of its start (only what had
finished before), labelled by whether it failed. The earlier 70 % train, the later 30 % test.
The estimator is scikit-learn's logistic regression on standardised features inside
``CalibratedClassifierCV`` (sigmoid), so its probabilities mean what they say; a linear model also
tells which features pushed a score up, which the pages quote as reasons.
"""

import hashlib
import hmac
import io
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import joblib
import numpy as np
import sklearn
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from governance.models import Business
from intelligence import features as F
from intelligence import history as H
from intelligence.models import PredictionModel
from mission_control.errors import DomainError

logger = logging.getLogger(__name__)

ALGORITHM = (
    "logistic regression, standardised, sigmoid-calibrated (scikit-learn CalibratedClassifierCV, 3 folds)"
)
TRAIN_SHARE = 0.7
MIN_FAILURES = 10  # in each of the train and test parts: fewer and the metrics mean nothing
Progress = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def samples(history: H.History, progress: Progress = _quiet):
    """(times, X, y, baseline) over every agent's finished executions, oldest first."""
    rows = []
    agents = history.agent_timelines()
    for done, ((_, key), timeline) in enumerate(sorted(agents.items()), start=1):
        for started, failed in history.starts.get(int(key), []):
            values = F.compute(timeline, started, presence=history.presence, providers=history.providers)
            if values is not None:
                rows.append((started, F.vector(values), failed, values["fail_rate_last20"]))
        progress("features", done, len(agents))
    rows.sort(key=lambda r: r[0])
    times = np.array([r[0] for r in rows], dtype=float)
    X = np.array([r[1] for r in rows], dtype=float).reshape(len(rows), len(F.FEATURES))
    y = np.array([r[2] for r in rows], dtype=int)
    baseline = np.array([r[3] for r in rows], dtype=float)
    return times, X, y, baseline


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    flagged = (p >= threshold).astype(int)
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "precision": round(float(precision_score(y, flagged, zero_division=0)), 4),
        "recall": round(float(recall_score(y, flagged, zero_division=0)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "flagged": int(flagged.sum()),
        "positives": int(y.sum()),
        "samples": len(y),
    }


def beats(model: dict, baseline: dict) -> bool:
    """Better ranking (ROC AUC) and better probabilities (Brier), both on the later split."""
    return model["roc_auc"] > baseline["roc_auc"] and model["brier"] < baseline["brier"]


def verdict(model: dict, baseline: dict) -> str:
    figures = (
        f"ROC AUC {model['roc_auc']:.3f} vs {baseline['roc_auc']:.3f}, "
        f"Brier {model['brier']:.3f} vs {baseline['brier']:.3f}"
    )
    if beats(model, baseline):
        return f"Beats the baseline (recent failure rate) on the later data: {figures}. In use."
    return f"Does not beat the baseline (recent failure rate) on the later data: {figures}. Not used."


def sign(blob: bytes) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), blob, hashlib.sha256).hexdigest()


def fit(X: np.ndarray, y: np.ndarray) -> CalibratedClassifierCV:
    pipeline = Pipeline([("scale", StandardScaler()), ("logit", LogisticRegression(max_iter=2000, C=1.0))])
    return CalibratedClassifierCV(pipeline, method="sigmoid", cv=3).fit(X, y)


def train(
    *, business: Business, now: datetime | None = None, progress: Progress = _quiet
) -> tuple[PredictionModel, bool]:
    """Train a new version for ``business`` from its recent ledger; returns (model, created).

    Idempotent: when the ledger has not changed since the newest version, that version is
    returned and nothing is trained. Refuses (``insufficient_history``) when there are too few
    samples or failures to train and test on.
    """
    now = now or timezone.now()
    since = now - timedelta(days=settings.MC_PREDICTION_TRAIN_DAYS)
    history = H.load(business.pk, since=since, until=now)
    fingerprint = hashlib.sha256(f"{history.last_id}:{history.count}:{F.FEATURES}".encode()).hexdigest()
    newest = PredictionModel.objects.filter(business=business).order_by("-version").first()
    if newest is not None and newest.fingerprint == fingerprint:
        return newest, False
    times, X, y, baseline = samples(history, progress)
    if len(y) < settings.MC_PREDICTION_MIN_SAMPLES:
        raise DomainError(
            "insufficient_history",
            f"{business.name} has {len(y)} executions with enough history before them; "
            f"training needs {settings.MC_PREDICTION_MIN_SAMPLES} (MC_PREDICTION_MIN_SAMPLES).",
        )
    cut = int(len(y) * TRAIN_SHARE)
    train_y, test_y = y[:cut], y[cut:]
    for part, labels in (("earlier", train_y), ("later", test_y)):
        failures = int(labels.sum())
        if failures < MIN_FAILURES or failures == len(labels):
            raise DomainError(
                "insufficient_history",
                f"The {part} part of {business.name}'s history has {failures} failures in {len(labels)} "
                f"executions; training and testing need at least {MIN_FAILURES} failures and some successes.",
            )
    progress("fit", 0, 1)
    estimator = fit(X[:cut], train_y)
    progress("fit", 1, 1)
    threshold = settings.MC_AT_RISK_THRESHOLD
    model_metrics = metrics(test_y, estimator.predict_proba(X[cut:])[:, 1], threshold)
    baseline_metrics = metrics(test_y, baseline[cut:], threshold)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    blob = buffer.getvalue()
    return _store(
        business=business,
        estimator_bytes=blob,
        fingerprint=fingerprint,
        times=times,
        cut=cut,
        model_metrics=model_metrics,
        baseline_metrics=baseline_metrics,
        threshold=threshold,
        now=now,
    ), True


@transaction.atomic
def _store(
    *, business, estimator_bytes, fingerprint, times, cut, model_metrics, baseline_metrics, threshold, now
) -> PredictionModel:
    # Lock the business row: two trainings of one business number their versions one after the other.
    Business.objects.select_for_update().filter(pk=business.pk).first()
    version = (PredictionModel.objects.filter(business=business).aggregate(v=Max("version"))["v"] or 0) + 1
    good = beats(model_metrics, baseline_metrics)
    # The newest version decides: one that does not beat the baseline retires the one before it too
    # (the later data no longer supports it), and the pages say that no model is in use.
    PredictionModel.objects.filter(business=business, in_use=True).update(in_use=False)
    model = PredictionModel.objects.create(
        business=business,
        version=version,
        algorithm=ALGORITHM,
        features=list(F.FEATURES),
        threshold=threshold,
        trained_at=now,
        data_from=_at(times[0]),
        data_until=_at(times[-1]),
        split_at=_at(times[cut]),
        train_samples=cut,
        test_samples=len(times) - cut,
        fingerprint=fingerprint,
        metrics=model_metrics,
        baseline_metrics=baseline_metrics,
        beats_baseline=good,
        verdict=verdict(model_metrics, baseline_metrics),
        in_use=good,
        artifact=estimator_bytes,
        signature=sign(estimator_bytes),
        library_version=sklearn.__version__,
    )
    logger.info("failure model %s v%s trained: %s", business.slug, version, model.verdict)
    return model


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(math.floor(ts), tz=UTC)


_LOADED: dict[int, CalibratedClassifierCV] = {}


def estimator(model: PredictionModel) -> CalibratedClassifierCV:
    """The fitted estimator of a stored version, unpickled only when its signature holds."""
    if model.pk in _LOADED:
        return _LOADED[model.pk]
    blob = bytes(model.artifact)
    if not hmac.compare_digest(sign(blob), model.signature):
        raise DomainError(
            "model_unavailable",
            f"Failure model v{model.version} does not carry this installation's signature; "
            "retrain it (manage.py train_failure_model).",
        )
    if model.library_version != sklearn.__version__:
        raise DomainError(
            "model_unavailable",
            f"Failure model v{model.version} was trained with scikit-learn {model.library_version}, "
            f"this is {sklearn.__version__}; retrain it (manage.py train_failure_model).",
        )
    loaded = joblib.load(io.BytesIO(blob))
    if len(_LOADED) > 32:
        _LOADED.clear()
    _LOADED[model.pk] = loaded
    return loaded


def contributions(fitted: CalibratedClassifierCV, x: np.ndarray) -> np.ndarray:
    """How much each feature pushed the score up (log-odds, averaged over the calibration folds)."""
    total = np.zeros(x.shape[-1])
    folds = fitted.calibrated_classifiers_
    for fold in folds:
        pipeline = fold.estimator
        z = pipeline.named_steps["scale"].transform(x.reshape(1, -1))[0]
        total += pipeline.named_steps["logit"].coef_[0] * z
    return total / len(folds)
