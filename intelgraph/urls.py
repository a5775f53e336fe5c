from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.access.views import purpose_declare
from intelgraph.graphql.view import (
    IntelGraphGraphQLView,
    persisted_documents_manifest,
    persisted_queries_manifest,
    schema_sdl,
)
from intelgraph.health import healthz, readyz
from intelgraph.metrics import metrics_view

admin.site.site_header = "IntelGraph administration"
admin.site.site_title = "IntelGraph"
admin.site.index_title = "Tenants, entities, compliance"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("access/purpose", purpose_declare, name="purpose_declare"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=False), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("explorer/", include("apps.explorer.urls")),
    path("llm/", include("apps.finops.urls")),
    path("graphql", IntelGraphGraphQLView.as_view(graphiql=settings.GRAPHIQL), name="graphql"),
    path("graphql/schema.graphql", schema_sdl, name="graphql_schema"),
    path("graphql/persisted-queries.json", persisted_queries_manifest, name="graphql_persisted_queries"),
    path("graphql/persisted-documents.json", persisted_documents_manifest, name="graphql_persisted_documents"),
    path("graphql/schemas/", include("apps.search.urls")),
    path("healthz", healthz),
    path("readyz", readyz),
    path("metrics", metrics_view),
]
