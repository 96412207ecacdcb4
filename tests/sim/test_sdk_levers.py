"""The levers (SPEC §6.2.1) as the official SDK (PureCloudPlatformClientV2 269.0.0) sees them.

As in :mod:`tests.sim.test_sdk_fidelity`: every answer deserializes into the SDK's model with
nothing lost or unknown (``assert_faithful``, field by field, against the raw JSON of the
same answer and of a separate fetch), the SDK's own request bodies are accepted, and a stale
version is an ``ApiException`` with status 409.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from types import ModuleType

import pytest

from watcher.sim import RunningSimulator

from .test_sdk_fidelity import WHOLE_TIME, SdkSession, _in_thread, _last_json, assert_faithful

pytestmark = pytest.mark.anyio

SITE = "/api/v2/telephony/providers/edges/sites/site-1"
IVR = "/api/v2/architect/ivrs/ivr-main"
ACTION = "/api/v2/integrations/actions/action-1"
FLOW = "/api/v2/flows/flow-use1"
EUW1_URL = "https://euw1.backend.example.com/customers/${input.customerId}"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The SDK with HOME in a scratch directory (see :mod:`tests.sim.test_sdk_fidelity`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("sdk-home")))
        yield importlib.import_module("PureCloudPlatformClientV2")


async def test_the_sdk_reads_and_writes_a_site(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        api = s.sdk.TelephonyProvidersEdgeApi(s.client)
        read = api.get_telephony_providers_edges_site("site-1")
        assert_faithful(read, _last_json(s.client))
        assert_faithful(read, s.get_json(SITE))
        assert (read.media_regions, read.media_regions_use_latency_based) == (
            ["us-east-1", "eu-west-1"],
            True,
        )

        read.media_regions = ["eu-west-1", "us-east-1"]
        read.media_regions_use_latency_based = False
        written = api.put_telephony_providers_edges_site("site-1", read)

        assert_faithful(written, _last_json(s.client))
        assert_faithful(written, s.get_json(SITE))
        assert (written.version, written.media_regions) == (read.version + 1, ["eu-west-1", "us-east-1"])
        assert written.media_regions_use_latency_based is False
        assert (written.location.name, written.division.id, written.media_model) == (
            read.location.name,
            read.division.id,
            "Cloud",
        )
        assert written.modified_by == "sim-client"

        with pytest.raises(s.sdk.rest.ApiException) as stale:
            api.put_telephony_providers_edges_site("site-1", read)  # still the old version
        assert stale.value.status == 409
        assert "does not match the current version" in json.loads(stale.value.body)["message"]

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_reads_and_writes_an_ivr_and_reads_its_flows(
    sdk: ModuleType, sim: RunningSimulator
) -> None:
    def scenario(s: SdkSession) -> None:
        architect = s.sdk.ArchitectApi(s.client)
        read = architect.get_architect_ivr("ivr-main")
        assert_faithful(read, _last_json(s.client))
        assert_faithful(read, s.get_json(IVR))
        flow = architect.get_flow(read.open_hours_flow.id)
        assert_faithful(flow, _last_json(s.client))
        assert_faithful(flow, s.get_json(FLOW))
        assert (flow.type, flow.deleted, flow.published_version.id) == ("INBOUNDCALL", False, "1.0")

        target = s.sdk.DomainEntityRef()
        target.id = "flow-euw1"
        read.open_hours_flow = target
        written = architect.put_architect_ivr("ivr-main", read)

        assert_faithful(written, _last_json(s.client))
        assert_faithful(written, s.get_json(IVR))
        assert (written.version, written.open_hours_flow.id) == (read.version + 1, "flow-euw1")
        assert (written.dnis, written.closed_hours_flow.id) == (read.dnis, read.closed_hours_flow.id)

        with pytest.raises(s.sdk.rest.ApiException) as stale:
            architect.put_architect_ivr("ivr-main", read)
        assert stale.value.status == 409
        with pytest.raises(s.sdk.rest.ApiException) as missing:
            architect.get_flow("flow-nope")
        assert missing.value.status == 404

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_reads_and_patches_a_data_action(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        api = s.sdk.IntegrationsApi(s.client)
        bare = api.get_integrations_action("action-1")
        assert_faithful(bare, _last_json(s.client))
        assert_faithful(bare, s.get_json(ACTION))
        assert (bare.config, bare.contract) == (None, None)
        read = api.get_integrations_action("action-1", include_config=True, expand="contract")
        assert_faithful(read, _last_json(s.client))
        assert_faithful(read, s.get_json(ACTION + "?includeConfig=true&expand=contract"))
        assert read.config.request.request_url_template.startswith("https://use1.")
        assert read.contract.input is not None

        update = s.sdk.UpdateActionInput()
        update.version = read.version
        update.config = read.config
        update.config.request.request_url_template = EUW1_URL
        written = api.patch_integrations_action("action-1", update)

        assert_faithful(written, _last_json(s.client))
        assert_faithful(written, s.get_json(ACTION + "?includeConfig=true"))
        assert (written.version, written.config.request.request_url_template) == (read.version + 1, EUW1_URL)
        assert written.config.response.success_template == read.config.response.success_template
        assert (written.name, written.category) == (read.name, read.category)

        with pytest.raises(s.sdk.rest.ApiException) as stale:
            api.patch_integrations_action("action-1", update)
        assert stale.value.status == 409
        assert "does not match the current version" in json.loads(stale.value.body)["message"]

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_sees_lever_writes_in_the_audit(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        api = s.sdk.IntegrationsApi(s.client)
        read = api.get_integrations_action("action-1", include_config=True)
        update = s.sdk.UpdateActionInput()
        update.version, update.config = read.version, read.config
        update.config.request.request_url_template = EUW1_URL
        api.patch_integrations_action("action-1", update)

        query = s.sdk.AuditRealtimeQueryRequest()
        query.interval = WHOLE_TIME
        query.service_name = "Integrations"
        found = s.sdk.AuditApi(s.client).post_audits_query_realtime(query)

        assert_faithful(found, _last_json(s.client))
        [entry] = found.entities
        assert (entry.entity_type, entry.action, entry.client.id) == ("Action", "Update", "sim-client")
        assert [(c.pcProperty, c.new_values) for c in entry.property_changes] == [
            ("config.request.requestUrlTemplate", [EUW1_URL])
        ]

    await _in_thread(sdk, sim, scenario)
