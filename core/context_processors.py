from .models import DeferredTask
from .roles import role_of


def assay(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "assay_role": role_of(request.user),
        "deferred_task_count": DeferredTask.objects.waiting().count(),
    }
