"""What the experiments side contributes to the monthly review agenda."""


def agenda_items(since, until):
    """Experiment items for a review covering (since, until].

    Returns a dict of lists: "gates_due", "timeboxes_expired", "kill_criteria_tripped",
    "flagged" — each item a dict with at least "experiment" (an Experiment) and "summary" (str).
    """
    return {"gates_due": [], "timeboxes_expired": [], "kill_criteria_tripped": [], "flagged": []}
