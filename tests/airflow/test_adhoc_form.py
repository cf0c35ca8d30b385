"""The `sna_adhoc_export` trigger form: generated from the audience model, every field clearable,
countries a multi-select of ISO codes, every refused value naming its form field."""

from __future__ import annotations

import copy
import typing

import pytest

from tests.airflow.conftest import parse_dags

LIST_FIELDS = ("default_groups", "groups_any", "exclude_email_domains", "countries", "shop_ids")


@pytest.fixture
def form(sna_env):
    return parse_dags().dags["sna_adhoc_export"].params


def _params_of(form):
    return {key: form.get_param(key) for key in form}


def test_a_cleared_list_field_is_null_and_still_valid(form) -> None:
    """The form sends null for a list typed in and cleared: the schema must take it (issue 10 item 18)."""
    for key in LIST_FIELDS:
        schema = form.get_param(key).schema
        assert schema["type"] == ["array", "null"], key
        cleared = copy.deepcopy(form)
        cleared.update({key: None})
        assert cleared.validate()[key] is None


def test_every_optional_field_can_be_cleared(form) -> None:
    """Only the export name and the platform are required; null means the audience file's default."""
    from sna.audience import Audience
    from sna_airflow.adhoc import audience_from_form

    required = {key for key, param in _params_of(form).items() if "null" not in param.schema["type"]}
    assert required == {"name", "platform"}
    cleared = copy.deepcopy(form)
    cleared.update({key: None for key in form if key not in required})
    values = cleared.validate()
    audience = audience_from_form(values)
    defaults = Audience(name="adhoc", platform="google")
    assert audience.filters == defaults.filters and audience.source == defaults.source
    assert (audience.hashing, audience.require_complete, audience.value) == ("none", True, "none")


def test_countries_are_a_multi_select_of_iso_codes_with_their_names(form) -> None:
    import pycountry
    from airflow.sdk.exceptions import ParamValidationError

    schema = form.get_param("countries").schema
    codes = sorted(country.alpha_2 for country in pycountry.countries)
    assert schema["examples"] == codes, "the multi-select's options"
    assert schema["values_display"]["FR"] == "FR France" and schema["values_display"]["BE"] == "BE Belgium"
    good = copy.deepcopy(form)
    good.update({"countries": ["FR", "BE"]})
    with pytest.raises(ParamValidationError, match="param countries: 'France' does not match") as refused:
        copy.deepcopy(form).update({"countries": ["France"]})
    assert len(str(refused.value)) < 300
    with pytest.raises(ParamValidationError, match="param exclude_email_domains: 'not a domain' does not match"):
        copy.deepcopy(form).update({"exclude_email_domains": ["not a domain"]})
    fine = copy.deepcopy(form)
    fine.update({"exclude_email_domains": [" @Example.COM ", "", "*.amazon.*"]})


def test_every_model_field_has_a_form_param() -> None:
    """A key added to the audience model gets its form field, or this test names it."""
    from sna.audience import Audience, Filters, SourceSpec
    from sna_airflow.adhoc import NOT_IN_FORM, form_fields, form_params

    fields = form_fields()
    params = form_params()
    for model in (Filters, SourceSpec):
        for name in model.model_fields:
            assert name in params, f"{model.__name__}.{name} has no form param"
    for name in Audience.model_fields:
        assert name in params or name in NOT_IN_FORM, f"Audience.{name} has no form param and no reason"
    assert all(reason for reason in NOT_IN_FORM.values())
    assert set(params) == {field.key for field in fields} | {"dry_run"}
    assert len({field.key for field in fields}) == len(fields), "two model fields share a form key"


def test_params_take_types_enums_titles_and_descriptions_from_the_model() -> None:
    from sna.audience import DOMAIN_INPUT_PATTERN, Audience, Filters
    from sna_airflow.adhoc import form_params

    params = form_params()
    for key, model in (("consent", Filters), ("hashing", Audience), ("platform", Audience), ("value", Audience)):
        literal = typing.get_args(model.model_fields[key].annotation)
        assert [v for v in params[key].schema["enum"] if v is not None] == list(literal), key
    assert params["min_valid_orders"].schema["type"] == ["integer", "null"]
    assert params["min_valid_orders"].schema["minimum"] == 0
    assert params["min_total_spent"].schema["type"] == ["number", "null"]
    assert params["ordered_within_days"].schema["maximum"] == 36_500
    assert params["include_guests"].schema["type"] == ["boolean", "null"]
    assert params["suppression_list"].schema["type"] == ["string", "null"]
    assert params["shop_ids"].schema["items"]["type"] == "integer"
    assert params["exclude_email_domains"].schema["items"]["pattern"] == DOMAIN_INPUT_PATTERN
    for key, param in params.items():
        assert param.schema.get("title"), key
        assert param.description, key
    assert params["min_total_spent"].schema["title"] == Filters.model_fields["min_total_spent"].title


def test_every_filter_reaches_the_audience() -> None:
    from sna_airflow.adhoc import audience_from_form

    audience = audience_from_form({
        "name": "everything", "platform": "meta", "default_groups": ["VIP", "3", ""], "groups_any": ["Customer"],
        "exclude_email_domains": ["@Example.COM", ""], "consent": "newsletter", "countries": ["FR"],
        "min_valid_orders": 2, "min_total_spent": 50.5, "ordered_within_days": 365, "include_guests": False,
        "suppression_list": "config/suppression.txt", "value": "total_spent", "hashing": "sha256",
        "require_complete": False, "table_prefix": "ps_", "shop_ids": [1], "id_lang": 1, "description": "x",
    })

    filters = audience.filters
    assert filters.default_groups == ["VIP", 3] and filters.groups_any == ["Customer"]
    assert filters.exclude_email_domains == ["example.com"] and filters.countries == ["FR"]
    assert (filters.min_valid_orders, filters.min_total_spent, filters.ordered_within_days) == (2, 50.5, 365)
    assert filters.include_guests is False and filters.consent == "newsletter"
    assert str(audience.suppression_list) == "config/suppression.txt" and audience.value == "total_spent"
    assert audience.source.shop_ids == [1] and audience.source.id_lang == 1
    assert audience.schedule is None


@pytest.mark.parametrize(("values", "field"), [
    ({"exclude_email_domains": ["not a domain"]}, "Excluded e-mail domains (exclude_email_domains)"),
    ({"value": "total_spent"}, "Customer value (value)"),
    ({"suppression_list": "../etc/passwd"}, "Suppression list (suppression_list)"),
    ({"default_groups": ["x" * 40]}, "Default customer groups (default_groups)"),
])
def test_a_value_the_model_refuses_names_the_form_field(values, field) -> None:
    from sna.errors import AudienceFileError
    from sna_airflow.adhoc import audience_from_form

    with pytest.raises(AudienceFileError) as caught:
        audience_from_form({"name": "x", "platform": "google", **values})
    assert f"field {field}" in str(caught.value)
    assert "filters." not in str(caught.value)


def test_an_audience_dag_form_field_can_be_cleared(sna_env) -> None:
    """The hashing dropdown has a clear button: cleared, the run uses the audience file's value."""
    from tests.airflow.conftest import GOOGLE_AUDIENCE, write_audience

    write_audience(sna_env, GOOGLE_AUDIENCE + "hashing: sha256\n")
    params = parse_dags().dags["sna_vip_test"].params
    for key in params:
        cleared = copy.deepcopy(params)
        cleared.update({key: None})
        assert cleared.validate()[key] is None
    assert params.get_param("hashing").schema["values_display"]["null"].startswith("as in the audience file")


def test_a_housekeeping_form_field_can_be_cleared(sna_env) -> None:
    """Its number fields too: cleared, the defaults apply."""
    from sna_airflow.housekeeping import setting

    params = parse_dags().dags["sna_housekeeping"].params
    for key in params:
        cleared = copy.deepcopy(params)
        cleared.update({key: None})
        values = cleared.validate()
        assert values[key] is None
        assert setting(values, key) == params.get_param(key).value
