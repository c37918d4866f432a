"""German names of console codes (statuses, worklist reasons, events); English via console.po."""

from __future__ import annotations

from frontend.rendering import N_

STATUS = {
    "submitted": N_("Eingegangen"),
    "processing": N_("In automatischer Bearbeitung"),
    "awaiting_payment": N_("Wartet auf Zahlung"),
    "referred": N_("An Sachbearbeitung verwiesen"),
    "in_review": N_("In Prüfung"),
    "awaiting_citizen": N_("Wartet auf Antwort der Bürgerin/des Bürgers"),
    "decided": N_("Entschieden"),
    "notified": N_("Bescheid zugestellt"),
    "objection": N_("Widerspruch"),
    "withdrawn": N_("Zurückgenommen"),
    "closed": N_("Abgeschlossen"),
}

REASON = {
    "incident": N_("Technische Störung"),
    "referred": N_("Verwiesen"),
    "qa_sample": N_("QS-Stichprobe"),
    "human_review": N_("Überprüfung verlangt (Art. 22 DSGVO)"),
    "answer": N_("Antwort der Bürgerin/des Bürgers"),
    "objection": N_("Widerspruch"),
    "awaiting_citizen": N_("Wartet auf Bürgerin/Bürger"),
    "four_eyes": N_("Wartet auf zweite Person"),
}

OUTCOME = {
    "approved": N_("Bewilligt"),
    "rejected": N_("Abgelehnt"),
    "referred": N_("Verwiesen"),
}

AGE = {
    "1": N_("älter als 1 Tag"),
    "3": N_("älter als 3 Tage"),
    "7": N_("älter als 7 Tage"),
    "30": N_("älter als 30 Tage"),
}

SORT = {
    "oldest": N_("Älteste zuerst"),
    "newest": N_("Neueste zuerst"),
    "waiting": N_("Am längsten unverändert"),
    "service": N_("Nach Dienst"),
    "status": N_("Nach Status"),
}

PURPOSE = {
    "bearbeitung": N_("Bearbeitung des Antrags"),
    "qa": N_("Qualitätssicherung"),
    "widerspruch": N_("Prüfung eines Widerspruchs"),
    "ueberpruefung": N_("Überprüfung durch eine Person"),
    "aufsicht": N_("Fach- und Dienstaufsicht"),
}

STAGE = {
    "decide": N_("Entscheidung nach den Regeln"),
    "payment": N_("Zahlung"),
    "writeback": N_("Eintrag im Register"),
    "documents": N_("Bescheid erstellen"),
    "notify": N_("Benachrichtigung"),
    "handover": N_("Übermittlung an das Fachverfahren"),
    "overdue": N_("Zu lange ohne Fortschritt (Überwachung)"),
}

DONE = {
    "incident_retried": N_("Der Schritt wird wiederholt."),
    "incident_taken_over": N_("Sie haben den Antrag übernommen."),
    "decided": N_("Die Entscheidung ist getroffen und der Bescheid zugestellt."),
    "proposed": N_("Die Entscheidung wartet auf die Bestätigung durch eine zweite Person."),
    "asked": N_("Die Rückfrage ist an die Bürgerin oder den Bürger gegangen."),
    "rerun": N_("Die automatische Bearbeitung ist erneut gelaufen."),
    "forwarded": N_("Der Widerspruch ist an die Widerspruchsbehörde weitergeleitet."),
    "cancelled": N_("Das Verfahren ist eingestellt."),
    "assigned": N_("Die Zuständigkeit ist geändert."),
    "confirmed": N_("Die Entscheidung ist bestätigt und der Bescheid zugestellt."),
    "refused": N_("Die vorgeschlagene Entscheidung ist zurückgewiesen."),
    "paused": N_("Die Automatisierung ist angehalten."),
    "resumed": N_("Die Automatisierung läuft wieder."),
}
