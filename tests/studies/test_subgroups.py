"""The subgroup filter, defined once: what ``?position=`` and ``?experience=`` accept, how a bad
value is named, and that every way in (the API, the command) offers the model's choices."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from readerstudy.analysis.api import AnalysisQuerySerializer
from readerstudy.analysis.management.commands.export_report import Command
from readerstudy.studies.models import ExperienceBand, ReaderPosition
from readerstudy.studies.subgroups import EVERYONE, SUBGROUP_CHOICES, ReaderSubgroup


def test_the_query_takes_the_bands_exactly_as_written():
    subgroup = ReaderSubgroup.from_query({"position": "attending", "experience": ">10"})
    assert (subgroup.position, subgroup.experience) == ("attending", ">10")
    assert subgroup.query == "position=attending&experience=%3E10"
    assert subgroup.key == subgroup.query and EVERYONE.key == "all"
    assert subgroup.label == (
        "Attending (consultant) dermatologist; dermoscopy experience more than 10 years"
    )
    assert ReaderSubgroup.from_query({"experience": "<3"}).label == (
        "Dermoscopy experience less than 3 years"
    )


def test_blank_or_missing_values_mean_every_reader():
    assert ReaderSubgroup.from_query({}) == EVERYONE
    assert ReaderSubgroup.from_query({"position": "", "experience": "  "}).everyone
    assert EVERYONE.label == "All readers" and EVERYONE.query == ""


def test_a_value_outside_the_choices_is_refused_naming_its_parameter():
    with pytest.raises(ValidationError) as error:
        ReaderSubgroup.from_query({"position": "chief", "experience": "10"})
    problems = error.value.message_dict
    assert sorted(problems) == ["experience", "position"]
    assert (
        "'10' is not a valid experience; choose one of <3, 3-10, >10" in problems["experience"][0]
    )


def test_every_way_in_offers_the_models_choices():
    assert SUBGROUP_CHOICES["position"] == tuple(ReaderPosition.values)
    assert SUBGROUP_CHOICES["experience"] == ("<3", "3-10", ">10") == tuple(ExperienceBand.values)
    fields = AnalysisQuerySerializer().fields
    assert tuple(fields["position"].choices) == SUBGROUP_CHOICES["position"]
    assert tuple(fields["experience"].choices) == SUBGROUP_CHOICES["experience"]
    parser = Command().create_parser("manage.py", "export_report")
    options = {action.dest: action for action in parser._actions}
    assert tuple(options["position"].choices) == SUBGROUP_CHOICES["position"]
    assert tuple(options["experience"].choices) == SUBGROUP_CHOICES["experience"]
