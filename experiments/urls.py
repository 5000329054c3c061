from django.urls import path

from .views import (
    criteria,
    curves,
    drift,
    experiments,
    gates,
    memos,
    postmortems,
    predictions,
    tokens,
)

app_name = "experiments"
urlpatterns = [
    # --- experiments, criteria, gates, evidence pages ---
    path("", experiments.experiment_list, name="experiment_list"),
    path("panel/", experiments.home_panel, name="home_panel"),
    path("new/", experiments.experiment_create, name="experiment_create"),
    path("calibration/", predictions.calibration, name="calibration"),
    path("<int:pk>/", experiments.experiment_detail, name="experiment_detail"),
    path("<int:pk>/edit/", experiments.experiment_edit, name="experiment_edit"),
    path("<int:pk>/evidence/", experiments.experiment_evidence, name="experiment_evidence"),
    path("<int:pk>/curves.json", curves.experiment_curves, name="experiment_curves"),
    path("<int:pk>/drift/", drift.experiment_drift, name="experiment_drift"),
    path("<int:pk>/criteria/new/", criteria.criterion_add, name="criterion_add"),
    path(
        "<int:pk>/criteria/<int:criterion_id>/supersede/",
        criteria.criterion_supersede,
        name="criterion_supersede",
    ),
    path(
        "<int:pk>/criteria/proposals/<int:supersede_proposal_id>/",
        criteria.supersede_proposal_decide,
        name="supersede_proposal_decide",
    ),
    path(
        "<int:pk>/criteria/<int:criterion_id>/check/",
        criteria.criterion_check,
        name="criterion_check",
    ),
    path("<int:pk>/gate/", gates.gate_decide, name="gate_decide"),
    path("<int:pk>/gate/carry-over/", gates.runs_carry_over, name="runs_carry_over"),
    path(
        "<int:pk>/proposals/<int:proposal_id>/",
        gates.proposal_decide,
        name="proposal_decide",
    ),
    path("<int:pk>/gates/<int:decision_id>/memo.md", memos.decision_memo, name="decision_memo"),
    path("<int:pk>/knowledge-transfer/<str:kind>/", memos.handover_write, name="handover_write"),
    path("<int:pk>/postmortem/", postmortems.postmortem_detail, name="postmortem_detail"),
    path("<int:pk>/postmortem/failures/", postmortems.failure_add, name="failure_add"),
    path("<int:pk>/postmortem/actions/", postmortems.action_item_add, name="action_item_add"),
    path(
        "<int:pk>/postmortem/actions/<int:item_id>/",
        postmortems.action_item_toggle,
        name="action_item_toggle",
    ),
    path("<int:pk>/predictions/", predictions.prediction_list, name="prediction_list"),
    path(
        "<int:pk>/predictions/<int:prediction_id>/forecast/",
        predictions.forecast_add,
        name="forecast_add",
    ),
    path(
        "<int:pk>/predictions/<int:prediction_id>/resolve/",
        predictions.prediction_resolve,
        name="prediction_resolve",
    ),
    # --- tokens ---
    path("<int:pk>/tokens/", tokens.token_list, name="token_list"),
    path("<int:pk>/tokens/new/", tokens.token_create, name="token_create"),
    path("<int:pk>/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
]
