#!/usr/bin/env bash
# The seed's MessageWall on Shoal, set up with the AWS CLI as the article sets it up:
#   1. a file system, and an access point for uid/gid 1001 limited to /message (created on
#      first use with owner 1001:1001 and mode 750);
#   2. the MessageWall function (lambda_function.py, the article's code) with that access point
#      mounted at /mnt/msg, running as the role MessageWall-role (which Lambda may assume);
#   3. an HTTP API with a stage "default" and a route "ANY /MessageWall" to the function.
# It prints the URL to curl.
#
# Run it again and it finds what the first run made instead of making it twice (the file
# system by its creation token, the access point by its client token, the API by its name, the
# rest by their keys), brings the function's code and configuration up to date, and prints the
# same URL; the wall keeps its messages. ./teardown.sh [NAME] removes it all.
#
# Usage: ./setup.sh [NAME]     (NAME defaults to MessageWall; run against a running
#                               `shoal serve`, at $SHOAL_ENDPOINT or http://127.0.0.1:9000)
set -euo pipefail

NAME=${1:-MessageWall}
ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
. "$(dirname "$0")/../credentials.sh"  # the keys to sign with (the server's root's)
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_PAGER=""  # AWS CLI v2 would page output through less
# The article picks Python 3.8; Shoal runs the Python versions installed on the host.
RUNTIME=${RUNTIME:-python3.$(python3 -c 'import sys; print(sys.version_info.minor)')}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

aws() { command aws --endpoint-url "$ENDPOINT" --output text "$@"; }
# The one value a --query selects, or nothing (the CLI prints "None" for a missing one).
found() { local v; v=$(aws "$@"); [ "$v" = None ] || printf '%s' "$v"; }

echo "Creating the file system and its access point..." >&2
FS_ID=$(found efs describe-file-systems --creation-token "$NAME-fs" \
    --query 'FileSystems[0].FileSystemId')
if [ -z "$FS_ID" ]; then
    FS_ID=$(aws efs create-file-system --creation-token "$NAME-fs" \
        --tags "Key=Name,Value=$NAME" --query FileSystemId)
fi
until [ "$(aws efs describe-file-systems --file-system-id "$FS_ID" \
    --query 'FileSystems[0].LifeCycleState')" = available ]; do sleep 0.2; done
# The same client token and parameters give back the access point the first run made.
AP_ARN=$(aws efs create-access-point --file-system-id "$FS_ID" --client-token "$NAME-ap" \
    --posix-user Uid=1001,Gid=1001 \
    --root-directory 'Path=/message,CreationInfo={OwnerUid=1001,OwnerGid=1001,Permissions=750}' \
    --query AccessPointArn)
AP_ID=${AP_ARN##*/}
until [ "$(aws efs describe-access-points --access-point-id "$AP_ID" \
    --query 'AccessPoints[0].LifeCycleState')" = available ]; do sleep 0.2; done

echo "Creating the $NAME-role execution role..." >&2
# Lambda must be allowed to assume it; the function needs no permission of its own.
TRUST='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
if ! aws iam get-role --role-name "$NAME-role" > /dev/null 2>&1; then
    aws iam create-role --role-name "$NAME-role" --assume-role-policy-document "$TRUST" > /dev/null
fi
ROLE_ARN=$(aws iam get-role --role-name "$NAME-role" --query Role.Arn)

echo "Creating the $NAME function with the access point at /mnt/msg..." >&2
(cd "$HERE" && python3 -m zipfile -c "$WORK/function.zip" lambda_function.py)
CONFIG=(--runtime "$RUNTIME" --role "$ROLE_ARN"
        --handler lambda_function.lambda_handler
        --file-system-configs "Arn=$AP_ARN,LocalMountPath=/mnt/msg")
if aws lambda get-function --function-name "$NAME" > /dev/null 2>&1; then
    aws lambda update-function-configuration --function-name "$NAME" "${CONFIG[@]}" > /dev/null
    aws lambda wait function-updated-v2 --function-name "$NAME"
    aws lambda update-function-code --function-name "$NAME" \
        --zip-file "fileb://$WORK/function.zip" > /dev/null
    aws lambda wait function-updated-v2 --function-name "$NAME"
else
    aws lambda create-function --function-name "$NAME" "${CONFIG[@]}" \
        --zip-file "fileb://$WORK/function.zip" > /dev/null
    aws lambda wait function-active-v2 --function-name "$NAME"
fi
FN_ARN=$(aws lambda get-function --function-name "$NAME" --query Configuration.FunctionArn)

echo "Creating the HTTP API (stage default, route ANY /MessageWall)..." >&2
API_ID=$(found apigatewayv2 get-apis --query "Items[?Name=='$NAME-API'] | [0].ApiId")
if [ -z "$API_ID" ]; then
    API_ID=$(aws apigatewayv2 create-api --name "$NAME-API" --protocol-type HTTP --query ApiId)
fi
INTEGRATION_ID=$(found apigatewayv2 get-integrations --api-id "$API_ID" \
    --query "Items[?IntegrationUri=='$FN_ARN'] | [0].IntegrationId")
if [ -z "$INTEGRATION_ID" ]; then
    INTEGRATION_ID=$(aws apigatewayv2 create-integration --api-id "$API_ID" \
        --integration-type AWS_PROXY --integration-uri "$FN_ARN" \
        --payload-format-version 2.0 --query IntegrationId)
fi
ROUTE_ID=$(found apigatewayv2 get-routes --api-id "$API_ID" \
    --query "Items[?RouteKey=='ANY /MessageWall'] | [0].RouteId")
if [ -z "$ROUTE_ID" ]; then
    aws apigatewayv2 create-route --api-id "$API_ID" --route-key "ANY /MessageWall" \
        --target "integrations/$INTEGRATION_ID" > /dev/null
else
    aws apigatewayv2 update-route --api-id "$API_ID" --route-id "$ROUTE_ID" \
        --target "integrations/$INTEGRATION_ID" > /dev/null
fi
if [ -z "$(found apigatewayv2 get-stages --api-id "$API_ID" \
    --query "Items[?StageName=='default'] | [0].StageName")" ]; then
    aws apigatewayv2 create-stage --api-id "$API_ID" --stage-name default --auto-deploy > /dev/null
fi
API_ENDPOINT=$(aws apigatewayv2 get-api --api-id "$API_ID" --query ApiEndpoint)

echo "$API_ENDPOINT/default/MessageWall"
