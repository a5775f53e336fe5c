from django.urls import path

from apps.search.views import search_filters_schema

urlpatterns = [
    path("search-filters.v1.json", search_filters_schema, name="search_filters_schema"),
]
