"""What our tools send is what the SDK sends: each request the simulator received from the consumer,
configure, stream and bridge goes to an SDK endpoint (method and path template), with the SDK's
query parameters and a body of the SDK's request model for that endpoint.

Requests to endpoints the SDK does not know but the project means to call (the tutorial dialect's
Interactions API, the login service) are listed in harness.NOT_IN_SDK and let through.
"""


def check_all(contract, requests, tool):
    endpoints = [contract.request(request, instance=tool) for request in requests]
    return {str(e) for e in endpoints if e is not None}


def test_the_consumers_reads_and_wrap_ups_are_sdk_requests(consumer_run, contract):
    called = check_all(contract, consumer_run, "invoke")

    contract.assert_all_match()
    assert "GET /api/v2/conversations/{conversationId}" in called
    assert any("/participants/" in endpoint for endpoint in called), \
        f"the consumer wrote no wrap-up; it called {sorted(called)}"


def test_configures_plan_apply_and_status_requests_are_sdk_requests(configure_run, contract):
    called = check_all(contract, configure_run, "configure")

    contract.assert_all_match()
    assert {"POST /api/v2/integrations", "PUT /api/v2/integrations/{integrationId}/config/current",
            "PATCH /api/v2/integrations/{integrationId}"} <= called, sorted(called)


def test_streams_channel_and_subscription_requests_are_sdk_requests(stream_run, contract):
    """POST /api/v2/notifications/channels goes without a body, as the SDK sends it."""
    requests, _ = stream_run
    called = check_all(contract, requests, "stream")

    contract.assert_all_match()
    assert {"POST /api/v2/notifications/channels",
            "PUT /api/v2/notifications/channels/{channelId}/subscriptions"} <= called, sorted(called)


def test_the_bridges_queue_listing_subscriptions_and_details_query_are_sdk_requests(bridge_run, contract):
    """The bridge's channel, listing and details query requests match the SDK's."""
    requests, _ = bridge_run
    called = check_all(contract, requests, "bridge")

    contract.assert_all_match()
    assert {"GET /api/v2/routing/queues",
            "POST /api/v2/analytics/conversations/details/query"} <= called, sorted(called)


def test_every_token_request_is_the_sdks_client_credentials_grant(consumer_run, stream_run, contract):
    """The SDK's ApiClient.get_client_credentials_token posts exactly grant_type=client_credentials."""
    tokens = [r for r in consumer_run + stream_run[0] if r["path"] == "/oauth/token"]
    for request in tokens:
        if request["method"] != "POST" or request.get("body") != {"grant_type": "client_credentials"}:
            contract.problem("POST /oauth/token (request)", "form", f"{request['method']} with "
                             f"{request.get('body')}, not grant_type=client_credentials")
        else:
            contract.json("POST /oauth/token (request)", {}, "object")
    contract.assert_all_match()
    assert tokens, "no token was requested"
