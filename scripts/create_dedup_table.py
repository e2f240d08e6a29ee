#!/usr/bin/env python3
"""Creates the dedup table on a local DynamoDB exactly as template.yaml's DedupTable defines it.

Reads the resource's KeySchema, AttributeDefinitions, BillingMode and TimeToLiveSpecification
from the template (CloudFormation tags such as !Ref are tolerated) and sends CreateTable and
UpdateTimeToLive to the endpoint. Waits up to --wait seconds for the server to answer.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request

import yaml


class TemplateLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short-form tags (!Ref, !GetAtt, ...) as plain data."""


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


TemplateLoader.add_multi_constructor("!", _any_tag)


def dedup_table_properties(template_path):
    with open(template_path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=TemplateLoader)
    resource = template["Resources"]["DedupTable"]
    if resource["Type"] != "AWS::DynamoDB::Table":
        raise SystemExit("template.yaml: DedupTable is not an AWS::DynamoDB::Table")
    return resource["Properties"]


def call(endpoint, target, body):
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "X-Amz-Date": "20260101T000000Z",
            # DynamoDB Local checks that a signature is present, not that it is valid.
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_until_up(endpoint, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call(endpoint, "ListTables", {})
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--wait", type=float, default=30)
    args = parser.parse_args()

    properties = dedup_table_properties(args.template)
    tables = wait_until_up(args.endpoint, args.wait)["TableNames"]
    if args.table not in tables:
        call(
            args.endpoint,
            "CreateTable",
            {
                "TableName": args.table,
                "KeySchema": properties["KeySchema"],
                "AttributeDefinitions": properties["AttributeDefinitions"],
                "BillingMode": properties["BillingMode"],
            },
        )
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        call(
            args.endpoint,
            "UpdateTimeToLive",
            {"TableName": args.table, "TimeToLiveSpecification": ttl},
        )
    print(f"table {args.table} ready: key {properties['KeySchema']}, ttl {ttl}", file=sys.stderr)


if __name__ == "__main__":
    main()
