from django.db import models


class Run(models.Model):
    """One training job's run. (Skeleton: the experiments issue fills it in.)"""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="runs"
    )
    name = models.CharField(max_length=200)
    variant = models.CharField(max_length=100, default="candidate")
    seed = models.IntegerField(null=True, blank=True)

    def __str__(self):
        return self.name


class MetricPoint(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="points")
    key = models.CharField(max_length=100)
    step = models.BigIntegerField()
    value = models.FloatField()

    def __str__(self):
        return f"{self.key}@{self.step}={self.value}"
