#!/usr/bin/env bash
# The seed article's MLInference API on Shoal, step by step as a user types it: the AWS CLI for
# the AWS-shaped parts, the shoal CLI for what the article does on an EC2 host.
#
#   ./run serve &                              # Shoal on http://127.0.0.1:9000
#   sudo examples/ml_inference/setup.sh        # root: it mounts the file system on this host
#
# Needs: the aws and shoal commands (./run setup puts both in .venv/bin), python3.11 on the
# host (the function's runtime; the torch 2.13.0 CPU wheel is for CPython 3.11).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
export PATH="$HERE/../../.venv/bin:$PATH"
export SHOAL_ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-shoal} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-shoal}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
aws() { command aws --endpoint-url "$SHOAL_ENDPOINT" "$@"; }
NAME=${NAME:-MLInference}
ACCOUNT=123456789012
step() { printf '\n== %s\n' "$*" >&2; }

step "1. A file system, and an access point /ml for uid/gid 1001 (created 1001:1001, 750)"
FS=$(aws efs create-file-system --creation-token "$NAME" --tags "Key=Name,Value=$NAME" \
      --query FileSystemId --output text)
AP=$(aws efs create-access-point --file-system-id "$FS" \
      --posix-user Uid=1001,Gid=1001 \
      --root-directory 'Path=/ml,CreationInfo={OwnerUid=1001,OwnerGid=1001,Permissions=750}' \
      --query AccessPointId --output text)
AP_ARN=$(aws efs describe-access-points --access-point-id "$AP" \
      --query 'AccessPoints[0].AccessPointArn' --output text)
echo "file system $FS, access point $AP"

step "2. PyTorch, Pillow and NumPy into /ml/lib, owned by 1001:1001 (the article's pip3 install -t + chown -R)"
shoal fs pip-install "$FS" --access-point "$AP" --target lib -r requirements.txt

step "3. The model into /ml/model (TORCH_HOME), built on this host with the libraries just installed"
MNT=$(mktemp -d)
shoal fs mount "$FS" "$MNT" --access-point "$AP"
trap 'shoal fs unmount "$MNT" 2>/dev/null; rmdir "$MNT"' EXIT
SAMPLES=${SAMPLES:-/tmp/$NAME-samples}
PYTHONPATH="$MNT/lib" python3.11 build_model.py --out "$MNT/model" --samples "$SAMPLES"
shoal fs unmount "$MNT"
rmdir "$MNT"
trap - EXIT
shoal fs du "$FS" --depth 2 --top 5

step "4. The $NAME function: python3.11, 3008 MB, 300 s, the file system at /mnt/inference"
ZIP=$(mktemp -d)/function.zip
python3 -m zipfile -c "$ZIP" lambda_function.py
aws lambda create-function --function-name "$NAME" --runtime python3.11 \
    --role "arn:aws:iam::$ACCOUNT:role/$NAME" --handler lambda_function.lambda_handler \
    --zip-file "fileb://$ZIP" --memory-size 3008 --timeout 300 \
    --environment 'Variables={PYTHONPATH=/mnt/inference/lib,TORCH_HOME=/mnt/inference/model}' \
    --file-system-configs "Arn=$AP_ARN,LocalMountPath=/mnt/inference" \
    --query FunctionArn --output text
aws lambda wait function-active-v2 --function-name "$NAME"
FN_ARN=$(aws lambda get-function --function-name "$NAME" --query Configuration.FunctionArn \
          --output text)

step "5. An HTTP API: route ANY /$NAME, stage default"
API=$(aws apigatewayv2 create-api --name "$NAME" --protocol-type HTTP --query ApiId --output text)
INTEGRATION=$(aws apigatewayv2 create-integration --api-id "$API" --integration-type AWS_PROXY \
      --integration-uri "$FN_ARN" --payload-format-version 2.0 --query IntegrationId --output text)
aws apigatewayv2 create-route --api-id "$API" --route-key "ANY /$NAME" \
    --target "integrations/$INTEGRATION" --query RouteKey --output text
aws apigatewayv2 create-stage --api-id "$API" --stage-name default --auto-deploy \
    --query StageName --output text
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
