"""`GET /api/config` and `POST /api/config[?dry_run=1]`: configuration as code over the API
(API.md, "Operations"), admin only. The work is `operations.configfile`'s, as for the commands."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import NoStoreMixin
from core.exceptions import Conflict, PreconditionFailed
from core.parsers import JSONParser
from core.schema import ErrorSerializer, ValidationErrorSerializer
from operations.configfile import (
    ACTIONS,
    EXPORTED_FIELDS,
    ChangeNotAllowed,
    ConfigError,
    StaleConfiguration,
    apply,
    check_document,
    current_export,
)
from providers.serializers import ProviderFieldsSerializer

# Admins only: viewers (and delegated users) may not read the whole fleet's settings this way.
CONFIG_PERMISSION = "providers.change_provider"
# Applying a file may create and archive as well as change.
APPLY_PERMISSIONS = ("providers.add_provider", "providers.change_provider", "providers.delete_provider")

TRUE_VALUES, FALSE_VALUES = ("1", "true", "yes"), ("0", "false", "no", "")


# --- the schema ---------------------------------------------------------------------------


class ConfigProviderSerializer(ProviderFieldsSerializer):
    """One provider of the configuration: the fields the API accepts on create, and whether a
    secret is present (never more of the secret)."""

    secret_present = serializers.BooleanField(read_only=True)

    class Meta(ProviderFieldsSerializer.Meta):
        fields = EXPORTED_FIELDS


class ConfigSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="sha256 of the configuration's canonical JSON; the ETag.")
    providers = ConfigProviderSerializer(many=True)


class ConfigBodySerializer(serializers.Serializer):
    providers = serializers.ListField(
        child=serializers.DictField(), help_text="Providers as GET /api/config lists them; `secret_present` is ignored."
    )
    prune = serializers.BooleanField(required=False, help_text="Archive live providers the list leaves out.")
    version = serializers.CharField(required=False, help_text="Read and ignored; send the version as If-Match.")


class ConfigChangeSerializer(serializers.Serializer):
    provider_id = serializers.CharField()
    action = serializers.ChoiceField(choices=ACTIONS)
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=2, max_length=2),
        help_text="Each changed field: [before, after].",
    )


class ConfigResultSerializer(serializers.Serializer):
    applied = serializers.BooleanField()
    version = serializers.CharField(help_text="The configuration's version after (a dry run: as it is).")
    changes = ConfigChangeSerializer(many=True)
    chain_before = serializers.ListField(child=serializers.CharField(), help_text="Provider ids in chain order.")
    chain_after = serializers.ListField(child=serializers.CharField())
    serving_before = serializers.CharField(allow_null=True)
    serving_after = serializers.CharField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())


DRY_RUN = OpenApiParameter("dry_run", bool, OpenApiParameter.QUERY, required=False,
                           description="1: report what would change, change nothing.")
IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False,
                            description='The configuration\'s ETag ("<version>") the file was made against; '
                            "another version → 412.")


# --- the view -----------------------------------------------------------------------------


def if_match_versions(header: str | None) -> set[str] | None:
    """The versions an `If-Match` header names; None when any will do (no header, or `*`)."""
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    return {tag.removeprefix("W/").strip('"') for tag in tags}


def dry_run_flag(request: Request) -> bool:
    value = request.query_params.get("dry_run")
    if value is None or value.lower() in FALSE_VALUES:
        return False
    if value.lower() in TRUE_VALUES:
        return True
    raise exceptions.ValidationError({"dry_run": ["Use 1 (report only) or 0 (apply)."]})


class ConfigView(NoStoreMixin, APIView):
    parser_classes = [JSONParser]

    def required_permission(self, request: Request) -> str:
        return CONFIG_PERMISSION

    @extend_schema(operation_id="config_retrieve", responses=ConfigSerializer,
                   description="Every live provider's public fields, ordered by id; `ETag` is the version.")
    def get(self, request: Request) -> Response:
        export = current_export()
        return Response(export.to_dict(), headers={"ETag": f'"{export.version}"'})

    @extend_schema(
        operation_id="config_apply",
        request=ConfigBodySerializer,
        parameters=[DRY_RUN, IF_MATCH],
        responses={
            200: ConfigResultSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="Names the provider and the field; "
                                 "nothing applied."),
            412: ErrorSerializer,
        },
        description="Apply the providers in one transaction (each change audited), or with `dry_run=1` "
        "only report the changes and the chain before and after.",
    )
    def post(self, request: Request) -> Response:
        if not request.user.has_perms(APPLY_PERMISSIONS):
            raise exceptions.PermissionDenied()
        dry_run = dry_run_flag(request)
        try:
            entries, prune, _ = check_document(request.data)
            result = apply(entries, prune=prune, actor=request.user, dry_run=dry_run,
                           expected_versions=if_match_versions(request.headers.get("If-Match")))
        except ConfigError as exc:
            raise exceptions.ValidationError(exc.errors) from None
        except StaleConfiguration as exc:
            raise PreconditionFailed(str(exc)) from None
        except ChangeNotAllowed as exc:
            if exc.conflict:
                raise Conflict(str(exc)) from None
            raise exceptions.PermissionDenied(str(exc)) from None
        data = result.to_dict()
        return Response(data, headers={"ETag": f'"{data["version"]}"'})
