#!/usr/bin/env bash
# The seed article's MLInference API on Shoal, step by step as a user types it: the AWS CLI for
# the AWS-shaped parts, the shoal CLI for what the article does on an EC2 host.
#
#   ./run serve &                              # Shoal on http://127.0.0.1:9000
#   sudo examples/ml_inference/setup.sh        # root: it mounts the file system on this host
#
# Needs: the aws and shoal commands (./run setup puts both in .venv/bin), python3.11 on the
# host (the function's runtime; the torch 2.13.0 CPU wheel is for CPython 3.11).
#
# Run it again and it makes nothing twice: it finds the file system by its creation token, the
# access point by its client token, the API by its name; it skips the install and the model
# build when the file system already holds them for this requirements.txt and build_model.py
# (a stamp beside each); it brings the function up to date. ./teardown.sh removes it all.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
export PATH="$HERE/../../.venv/bin:$PATH"
export SHOAL_ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
. ../credentials.sh  # the keys to sign with (the server's root's)
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_PAGER=""  # AWS CLI v2 would page output through less
aws() { command aws --endpoint-url "$SHOAL_ENDPOINT" "$@"; }
# The one value a --query selects, or nothing (the CLI prints "None" for a missing one).
found() { local v; v=$(aws "$@" --output text); [ "$v" = None ] || printf '%s' "$v"; }
NAME=${NAME:-MLInference}
ACCOUNT=123456789012
step() { printf '\n== %s\n' "$*" >&2; }
WORK=$(mktemp -d)
MNT=
cleanup() {
    if [ -n "$MNT" ]; then shoal fs unmount "$MNT" 2>/dev/null || true; rmdir "$MNT"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
stamp() { cat "$@" | sha256sum | cut -d' ' -f1; }

step "1. A file system, and an access point /ml for uid/gid 1001 (created 1001:1001, 750)"
FS=$(found efs describe-file-systems --creation-token "$NAME" --query 'FileSystems[0].FileSystemId')
if [ -z "$FS" ]; then
    FS=$(aws efs create-file-system --creation-token "$NAME" --tags "Key=Name,Value=$NAME" \
          --query FileSystemId --output text)
fi
AP=$(aws efs create-access-point --file-system-id "$FS" --client-token "$NAME-ml" \
      --posix-user Uid=1001,Gid=1001 \
      --root-directory 'Path=/ml,CreationInfo={OwnerUid=1001,OwnerGid=1001,Permissions=750}' \
      --query AccessPointId --output text)
AP_ARN=$(aws efs describe-access-points --access-point-id "$AP" \
      --query 'AccessPoints[0].AccessPointArn' --output text)
echo "file system $FS, access point $AP"
MNT=$(mktemp -d)
shoal fs mount "$FS" "$MNT" --access-point "$AP"

step "2. PyTorch, Pillow and NumPy into /ml/lib, owned by 1001:1001 (the article's pip3 install -t + chown -R)"
WANT=$(stamp requirements.txt)
if [ "$(cat "$MNT/lib/.setup-stamp" 2>/dev/null)" = "$WANT" ]; then
    echo "already installed for this requirements.txt"
else
    shoal fs pip-install "$FS" --access-point "$AP" --target lib -r requirements.txt
    echo "$WANT" > "$MNT/lib/.setup-stamp"
fi

step "3. The model into /ml/model (TORCH_HOME), built on this host with the libraries just installed"
SAMPLES=${SAMPLES:-/tmp/$NAME-samples}
WANT=$(stamp build_model.py hub/hubconf.py)
if [ "$(cat "$MNT/model/.setup-stamp" 2>/dev/null)" = "$WANT" ] \
        && compgen -G "$SAMPLES/circle-0.*" > /dev/null; then
    echo "already built by this build_model.py; samples in $SAMPLES"
else
    PYTHONPATH="$MNT/lib" python3.11 build_model.py --out "$MNT/model" --samples "$SAMPLES"
    echo "$WANT" > "$MNT/model/.setup-stamp"
fi
shoal fs unmount "$MNT"
rmdir "$MNT"
MNT=
shoal fs du "$FS" --depth 2 --top 5

step "4. The $NAME function: python3.11, 3008 MB, 300 s, the file system at /mnt/inference, role $NAME"
(cd "$HERE" && python3 -m zipfile -c "$WORK/function.zip" lambda_function.py)
# Its execution role: Lambda must be allowed to assume it (the function needs no permission).
TRUST='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
if ! aws iam get-role --role-name "$NAME" > /dev/null 2>&1; then
    aws iam create-role --role-name "$NAME" --assume-role-policy-document "$TRUST" > /dev/null
fi
CONFIG=(--runtime python3.11 --role "arn:aws:iam::$ACCOUNT:role/$NAME"
        --handler lambda_function.lambda_handler --memory-size 3008 --timeout 300
        --environment 'Variables={PYTHONPATH=/mnt/inference/lib,TORCH_HOME=/mnt/inference/model}'
        --file-system-configs "Arn=$AP_ARN,LocalMountPath=/mnt/inference")
if aws lambda get-function --function-name "$NAME" > /dev/null 2>&1; then
    aws lambda update-function-configuration --function-name "$NAME" "${CONFIG[@]}" > /dev/null
    aws lambda wait function-updated-v2 --function-name "$NAME"
    aws lambda update-function-code --function-name "$NAME" --zip-file "fileb://$WORK/function.zip" \
        --query FunctionArn --output text
    aws lambda wait function-updated-v2 --function-name "$NAME"
else
    aws lambda create-function --function-name "$NAME" "${CONFIG[@]}" \
        --zip-file "fileb://$WORK/function.zip" --query FunctionArn --output text
    aws lambda wait function-active-v2 --function-name "$NAME"
fi
FN_ARN=$(aws lambda get-function --function-name "$NAME" --query Configuration.FunctionArn \
          --output text)

step "5. An HTTP API: route ANY /$NAME, stage default"
API=$(found apigatewayv2 get-apis --query "Items[?Name=='$NAME'] | [0].ApiId")
if [ -z "$API" ]; then
    API=$(aws apigatewayv2 create-api --name "$NAME" --protocol-type HTTP --query ApiId --output text)
fi
INTEGRATION=$(found apigatewayv2 get-integrations --api-id "$API" \
      --query "Items[?IntegrationUri=='$FN_ARN'] | [0].IntegrationId")
if [ -z "$INTEGRATION" ]; then
    INTEGRATION=$(aws apigatewayv2 create-integration --api-id "$API" --integration-type AWS_PROXY \
          --integration-uri "$FN_ARN" --payload-format-version 2.0 --query IntegrationId --output text)
fi
ROUTE=$(found apigatewayv2 get-routes --api-id "$API" --query "Items[?RouteKey=='ANY /$NAME'] | [0].RouteId")
if [ -z "$ROUTE" ]; then
    aws apigatewayv2 create-route --api-id "$API" --route-key "ANY /$NAME" \
        --target "integrations/$INTEGRATION" --query RouteKey --output text
else
    aws apigatewayv2 update-route --api-id "$API" --route-id "$ROUTE" \
        --target "integrations/$INTEGRATION" --query RouteKey --output text
fi
if [ -z "$(found apigatewayv2 get-stages --api-id "$API" \
        --query "Items[?StageName=='default'] | [0].StageName")" ]; then
    aws apigatewayv2 create-stage --api-id "$API" --stage-name default --auto-deploy \
        --query StageName --output text
else
    echo default
fi
URL=$(aws apigatewayv2 get-api --api-id "$API" --query ApiEndpoint --output text)/default/$NAME

step "6. Call it"
cat <<EOF
A picture as the request body:
  curl -H 'Content-Type: image/png' --data-binary @$SAMPLES/circle-0.png $URL
Or the article's way, a URL to fetch. Functions reach other hosts, never this one, so serve
the samples from "another host": a network namespace joined to this one by a veth pair:
  ip netns add web && ip link add web0 type veth peer name eth0 netns web
  ip addr add 198.18.0.1/30 dev web0 && ip link set web0 up
  ip -n web addr add 198.18.0.2/30 dev eth0 && ip -n web link set eth0 up
  (ip netns exec web python3 -m http.server 8000 --bind 198.18.0.2 -d $SAMPLES >/dev/null 2>&1 &)
  curl '$URL?url=http://198.18.0.2:8000/square-0.jpg'
EOF
