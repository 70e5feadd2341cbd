""" "When will someone answer": the due time from a calendar and a target, and a phrase for templates.

:func:`due` is ``now`` plus the target in business time ("2 business hours" asked on Friday at 23:00
before a holiday Monday is due on Tuesday at 11:00). :func:`phrase` says it in the customer's language,
in the calendar's time zone: "within the hour", "by 15:30 today", "by 9:00 tomorrow", "by Monday 9:00",
"by 5 January 9:00" (a week or more away). English, French, German, Spanish, Italian and Portuguese
have their own wording; any other language gets English. Pure: no clock, ``now`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.calendars import Calendar, Unknown


@dataclass(frozen=True, slots=True)
class Promise:
    """When an answer is due and how to say it."""

    due: datetime
    text: str


@dataclass(frozen=True, slots=True)
class _Words:
    hour: str  # within the hour
    today: str  # {time} today
    tomorrow: str
    weekday: str  # {day} {time}
    date: str  # {date} {time}
    days: tuple[str, ...]
    months: tuple[str, ...]
    date_format: str = "{d} {month}"


_EN = _Words(
    "within the hour",
    "by {time} today",
    "by {time} tomorrow",
    "by {day} {time}",
    "by {date} {time}",
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"),
)  # fmt: skip
WORDS: dict[str, _Words] = {
    "en": _EN,
    "fr": _Words(
        "dans l'heure",
        "aujourd'hui avant {time}",
        "demain avant {time}",
        "{day} avant {time}",
        "le {date} avant {time}",
        ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
        ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
         "novembre", "décembre"),
    ),
    "de": _Words(
        "innerhalb einer Stunde",
        "bis heute {time} Uhr",
        "bis morgen {time} Uhr",
        "bis {day} {time} Uhr",
        "bis {date} {time} Uhr",
        ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
         "November", "Dezember"),
        "{d}. {month}",
    ),
    "es": _Words(
        "en menos de una hora",
        "hoy antes de {art}{time}",
        "mañana antes de {art}{time}",
        "el {day} antes de {art}{time}",
        "el {date} antes de {art}{time}",
        ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
         "noviembre", "diciembre"),
        "{d} de {month}",
    ),
    "it": _Words(
        "entro un'ora",
        "oggi entro {art}{time}",
        "domani entro {art}{time}",
        "{day} entro {art}{time}",
        "il {date} entro {art}{time}",
        ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
        ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre",
         "novembre", "dicembre"),
    ),
    "pt": _Words(
        "dentro de uma hora",
        "hoje até {art}{time}",
        "amanhã até {art}{time}",
        "{day} até {art}{time}",
        "em {date} até {art}{time}",
        ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo"),
        ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
         "novembro", "dezembro"),
        "{d} de {month}",
    ),
}  # fmt: skip

# The article before a clock time: singular for one o'clock ("la 1:00", "l'1:00", "à 1:00"), plural otherwise.
_ARTICLES = {"es": ("la ", "las "), "it": ("l'", "le "), "pt": ("à ", "às ")}


def due(calendar: Calendar | Unknown, now: datetime, target: timedelta) -> datetime | Unknown:
    """``now`` plus ``target`` of business time; :class:`Unknown` when the calendar is unknown or never
    opens again (nothing may be promised then)."""
    if isinstance(calendar, Unknown):
        return calendar
    at = calendar.add_business_time(now, target)
    return Unknown(f"calendar {calendar.name} does not open in the next two years") if at is None else at


def promise(calendar: Calendar | Unknown, now: datetime, target: timedelta, language: str = "en") -> Promise | Unknown:
    """The due time and its phrase in ``language`` (an ISO 639-1 code; English when it has no table)."""
    if isinstance(calendar, Unknown):
        return calendar
    at = due(calendar, now, target)
    if isinstance(at, Unknown):
        return at
    return Promise(at, phrase(at, now, calendar, language))


def phrase(at: datetime, now: datetime, calendar: Calendar, language: str = "en") -> str:
    """How to say "by ``at``" to someone at ``now``, in the calendar's zone."""
    words = WORDS.get(language.split("-")[0].lower(), _EN)
    if at - now <= timedelta(hours=1):
        return words.hour
    local, today = at.astimezone(calendar.zone), now.astimezone(calendar.zone).date()
    days = (local.date() - today).days
    template = words.today if days == 0 else words.tomorrow if days == 1 else words.weekday if days < 7 else words.date
    return template.format(
        time=f"{local.hour}:{local.minute:02d}",
        day=words.days[local.weekday()],
        date=words.date_format.format(d=local.day, month=words.months[local.month - 1]),
        art=_article(language, local.hour),
    )


def _article(language: str, hour: int) -> str:
    singular, plural = _ARTICLES.get(language.split("-")[0].lower(), ("", ""))
    return singular if hour == 1 else plural
