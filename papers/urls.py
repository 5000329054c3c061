from django.urls import path

from .views import imports, intake, library, notes, pdf, questions, search

app_name = "papers"
urlpatterns = [
    # --- library, notes, questions, imports ---
    path("", library.paper_list, name="paper_list"),
    path("new/", library.paper_create, name="paper_create"),
    path("<int:pk>/", library.paper_detail, name="paper_detail"),
    path("<int:pk>/edit/", library.paper_edit, name="paper_edit"),
    path("<int:pk>/links/", library.paper_link, name="paper_link"),
    path("<int:pk>/links/remove/", library.paper_unlink, name="paper_unlink"),
    path("<int:pk>/reading/", library.paper_reading_state, name="paper_reading_state"),
    path("<int:pk>/pdf", pdf.paper_pdf, name="paper_pdf"),
    path("<int:pk>/pdf/status/", pdf.paper_pdf_status, name="paper_pdf_status"),
    path("<int:pk>/pdf/upload/", pdf.paper_pdf_upload, name="paper_pdf_upload"),
    path("<int:pk>/pdf/fetch/", pdf.paper_pdf_fetch, name="paper_pdf_fetch"),
    path("<int:pk>/pdf/extract/", pdf.paper_pdf_extract, name="paper_pdf_extract"),
    path("<int:pk>/passages/<int:passage_pk>/cite/", pdf.passage_cite, name="passage_cite"),
    path("<int:pk>/note/", notes.note_edit, name="note_edit"),
    path("notes/<int:pk>/delete/", notes.note_delete, name="note_delete"),
    path("queue/", library.reading_queue, name="reading_queue"),
    path("merge/", library.paper_merge, name="paper_merge"),
    path("import/", imports.paper_import, name="paper_import"),
    path("export/", imports.paper_export, name="paper_export"),
    path("questions/", questions.question_list, name="question_list"),
    path("questions/<int:pk>/", questions.question_detail, name="question_detail"),
    path("questions/<int:pk>/links/", questions.question_link, name="question_link"),
    path("questions/<int:pk>/links/work/", questions.question_link_work, name="question_link_work"),
    path(
        "questions/<int:pk>/links/<int:link_pk>/remove/",
        questions.question_unlink,
        name="question_unlink",
    ),
    path(
        "questions/<int:pk>/conclusion/", questions.question_conclusion, name="question_conclusion"
    ),
    path(
        "questions/<int:pk>/what-would-resolve/",
        questions.question_what_would_resolve,
        name="question_what_would_resolve",
    ),
    path("panel/", library.home_panel, name="home_panel"),
    # --- intake: watches and the triage inbox ---
    path("inbox/", intake.triage_inbox, name="triage_inbox"),
    path("inbox/<int:pk>/triage/", intake.triage_item, name="triage_item"),
    path("watches/new/", intake.watch_create, name="watch_create"),
    path("watches/<int:pk>/", intake.watch_detail, name="watch_detail"),
    path("watches/<int:pk>/poll/", intake.watch_poll, name="watch_poll"),
    path("watches/<int:pk>/toggle/", intake.watch_toggle, name="watch_toggle"),
    # --- search ---
    path("search/", search.paper_search, name="search"),
    path("search/indexes/", search.index_status, name="index_status"),
    path("search/indexes/rebuild/", search.index_rebuild, name="index_rebuild"),
    path("search/near-duplicates/", search.paper_near_duplicates, name="near_duplicates"),
    path("<int:pk>/similar/", search.paper_similar, name="similar"),
    path("questions/<int:pk>/candidates/", search.question_candidates, name="question_candidates"),
]
