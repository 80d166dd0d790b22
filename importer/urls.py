"""The upload wizard's URLs (include at "import/")."""

from django.urls import path

from . import views

app_name = "importer"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("history/", views.history, name="history"),
    path("<int:pk>/", views.job_detail, name="job"),
    path("<int:pk>/progress/", views.job_progress, name="progress"),
    path("<int:pk>/retry/", views.retry, name="retry"),
    path("<int:pk>/mapping/", views.mapping, name="mapping"),
    path("<int:pk>/mapping/tables/<int:position>/", views.mapping_table, name="mapping_table"),
    path("<int:pk>/mapping.json", views.mapping_download, name="mapping_download"),
    path("<int:pk>/mapping/upload/", views.mapping_upload, name="mapping_upload"),
    path("<int:pk>/dry-run/", views.dry_run, name="dry_run"),
    path("<int:pk>/preview/", views.preview, name="preview"),
    path("<int:pk>/errors.csv", views.errors_csv, name="errors_csv"),
    path("<int:pk>/import/", views.confirm_import, name="import"),
    path("<int:pk>/results/", views.results, name="results"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
]
