"""What the citizen pays: a fee for the procedure, or a tax or charge the notice assesses."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import pydantic
from pydantic import StringConstraints, field_validator

from backend.definitions.models.base import CelSource, Identifier, Number, _Strict
from backend.domain.language import LocalizedText, Text

# XBezahldienste 1.2.0 PaymentItem.bookingData values: '^[\w\s\-,\.\u00C0-\u017F]+$', 1..250.
_BOOKING_VALUE = r"^[\w\s\-,\.\u00C0-\u017F]{1,60}$"
BookingValue = Annotated[str, StringConstraints(pattern=_BOOKING_VALUE)]


class FeeBooking(_Strict):
    """Where the cash office books the fee, so a payment is booked without a person."""

    haushaltsstelle: BookingValue = pydantic.Field(
        description="Haushaltsstelle (budget line) the fee is booked to, e.g. '1.122.01'."
    )
    sachkonto: BookingValue = pydantic.Field(
        description="Sachkonto (general-ledger account) of the fee, e.g. '4311000'."
    )
    kassenzeichen_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,12}$")] = (
        pydantic.Field(
            description="Start of the Kassenzeichen: the payment's Kassenzeichen is this, a "
            "hyphen and the case reference without 'KD-' (e.g. '5120-2026-ABCD-EFGH')."
        )
    )
    endpoint_id: Annotated[str, StringConstraints(pattern=r"^[\w-]{1,27}$")] | None = (
        pydantic.Field(
            None,
            description="XBezahldienste endPointId of the authority's cash office (e.g. its "
            "AGS); empty: KNOPFDRUCK_XBEZAHLDIENSTE_ENDPOINT_ID.",
        )
    )


class Fee(_Strict):
    """A fee due when the application is approved, computed into amounts under its id."""

    id: Identifier = pydantic.Field(description="Fee id, also its name in amounts.")
    amount: Number | CelSource = pydantic.Field(
        description="Amount in euros: a number, or a CEL expression (e.g. 'params.gebuehr')."
    )
    legal_reference: Text = pydantic.Field(description="Provision that sets the fee.")
    label: LocalizedText = pydantic.Field(description="What the fee is for, on notice and receipt.")
    booking: FeeBooking | None = pydantic.Field(
        None,
        description="Booking data for the cash office (Haushaltsstelle, Sachkonto, "
        "Kassenzeichen); sent with the payment and written to the daily booking export.",
    )

    @field_validator("amount")
    @classmethod
    def _not_negative(cls, amount: int | float | str) -> int | float | str:
        """A fee is never a payout."""
        if not isinstance(amount, str) and amount < 0:
            raise ValueError("a fee cannot be negative")
        return amount


_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_CREDITOR_ID = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}$")
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1): a typo in the account must not reach a notice."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


class Account(_Strict):
    """The authority's account a tax or charge is paid to, printed on the notice; it belongs to
    the service and its authority, never to platform settings (one platform, many Kassen)."""

    holder: Text = pydantic.Field(description="Account holder, e.g. 'Stadtkasse Köln'.")
    iban: Text = pydantic.Field(description="IBAN, without spaces.")
    bic: Text = pydantic.Field(description="BIC of the bank.")
    bank: Text = pydantic.Field(description="Name of the bank.")
    creditor_id: Text | None = pydantic.Field(
        default=None,
        description="SEPA Gläubiger-Identifikationsnummer, printed on the mandate form.",
    )

    @field_validator("iban")
    @classmethod
    def _iban(cls, iban: str) -> str:
        """A wrong IBAN on a tax notice sends the citizen's money elsewhere."""
        if not _IBAN.match(iban) or not iban_checksum_ok(iban):
            raise ValueError("not a valid IBAN (two letters, check digits, no spaces)")
        return iban

    @field_validator("bic")
    @classmethod
    def _bic(cls, bic: str) -> str:
        if not _BIC.match(bic):
            raise ValueError("not a valid BIC (8 or 11 letters and digits)")
        return bic

    @field_validator("creditor_id")
    @classmethod
    def _creditor(cls, creditor_id: str | None) -> str | None:
        if creditor_id is not None and not _CREDITOR_ID.match(creditor_id):
            raise ValueError("not a SEPA creditor identifier (e.g. DE98ZZZ09999999999)")
        return creditor_id


class LevyRate(_Strict):
    """One rate of a tax or charge, shown in the catalogue from its dated parameter."""

    parameter: Identifier = pydantic.Field(description="Parameter holding the rate in euros.")
    label: LocalizedText = pydantic.Field(description="Whom the rate applies to.")


class DueDates(_Strict):
    """When an annual tax or charge falls due: fixed days a year, each for its share of the year
    (four days: quarters, as § 28 Abs. 1 GrStG or a Hundesteuersatzung set them)."""

    dates: list[Annotated[str, StringConstraints(pattern=_MONTH_DAY.pattern)]] = pydantic.Field(
        min_length=1, description="Due days as MM-DD, e.g. ['02-15', '05-15', '08-15', '11-15']."
    )
    liable_from_field: Identifier = pydantic.Field(
        description="Date field from which the liability arises, e.g. the day the dog was taken in."
    )
    liability_starts: Literal["that_day", "next_month"] = pydantic.Field(
        default="next_month",
        description=(
            "next_month: the liability begins on the first day of the following month (the "
            "usual rule of dog tax statutes); that_day: on the day itself, by whole months."
        ),
    )
    arrears_due_days: int = pydantic.Field(
        default=30,
        ge=0,
        le=90,
        description="Days after the notice by which instalments already past are due.",
    )
    legal_reference: Text = pydantic.Field(description="Provision that sets the due dates.")

    @field_validator("dates")
    @classmethod
    def _ascending(cls, dates: list[str]) -> list[str]:
        """Equal shares of the year need distinct days in the order of the year."""
        if sorted(set(dates)) != dates or 12 % len(dates):
            raise ValueError(
                "due days must ascend without repeats, and their number must divide 12 "
                "(1, 2, 3, 4, 6 or 12 a year)"
            )
        return dates


class Levy(_Strict):
    """A tax (Steuer) or charge (Beitrag, Abgabe) the notice assesses and the citizen pays to
    the authority's account afterwards: unlike a fee (Gebühr), which is the price of the
    procedure and is paid before the decision is issued."""

    id: Identifier = pydantic.Field(description="Levy id.")
    kind: Literal["tax", "charge"] = pydantic.Field(
        description="tax: Steuer (AO, KAG); charge: Beitrag or sonstige Abgabe."
    )
    label: LocalizedText = pydantic.Field(description="Name of the levy, e.g. 'Hundesteuer'.")
    legal_reference: Text = pydantic.Field(description="Provision that levies it.")
    annual_amount: Identifier = pydantic.Field(
        description="Calculation output holding the amount a year."
    )
    rates: list[LevyRate] = pydantic.Field(
        default_factory=list, description="Rates the catalogue shows, from dated parameters."
    )
    due: DueDates = pydantic.Field(description="Due days and start of the liability.")
    kassenzeichen_prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,8}$")] = (
        pydantic.Field(
            description=(
                "The Kasse's number range for this levy; the Kassenzeichen is this prefix and "
                "the case's Aktenzeichen, so a payment finds its case."
            )
        )
    )
    payee: Account = pydantic.Field(description="Account the levy is paid to.")
