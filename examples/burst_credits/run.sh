#!/usr/bin/env bash
# The seed's warning about bursting throughput, played in about a minute with the AWS CLI:
#
#   1. a small bursting file system holds a function's libraries (three 16 MiB files), which
#      the function reads at init;
#   2. under load each new environment reads them again: BurstCreditBalance falls to zero,
#      the file system is held to its baseline (1 MiB/s; reads at 3), inits time out;
#   3. put-function-concurrency --reserved-concurrent-executions 0 stops the function while
#      the credits recover;
#   4. switching the file system to provisioned throughput removes the problem.
#
# Start the server with a small starting balance (80 MiB instead of EFS's 2.1 TiB) and metrics
# published every second — demonstration settings; a real deployment needs neither:
#
#   sudo SHOAL_EFS_BURST_CREDITS=83886080 SHOAL_EFS_METRICS_S=1 ./run serve &
#   sudo examples/burst_credits/run.sh        # root: it mounts the file system on this host
#
# It removes what it made at the end (the function, its role, the file system).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
export PATH="$HERE/../../.venv/bin:$PATH"
export SHOAL_ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
. ../credentials.sh  # the keys to sign with (the server's root's)
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_PAGER=""
aws() { command aws --endpoint-url "$SHOAL_ENDPOINT" --output text "$@"; }
NAME=${NAME:-BurstCredits}
RUNTIME=${RUNTIME:-python3.$(python3 -c 'import sys; print(sys.version_info.minor)')}
step() { printf '\n== %s\n' "$*" >&2; }
WORK=$(mktemp -d)
MNT=
FS=
cleanup() {
    if [ -n "$MNT" ]; then shoal fs unmount "$MNT" 2>/dev/null || true; rmdir "$MNT"; fi
    aws lambda delete-function --function-name "$NAME" > /dev/null 2>&1 || true
    aws iam delete-role --role-name "$NAME-role" 2>/dev/null || true
    if [ -n "$FS" ]; then
        for ap in $(aws efs describe-access-points --file-system-id "$FS" \
                    --query 'AccessPoints[].AccessPointId' 2>/dev/null); do
            aws efs delete-access-point --access-point-id "$ap" || true
        done
        aws efs delete-file-system --file-system-id "$FS" || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
balance() {  # the newest one-second BurstCreditBalance, in MiB
    aws cloudwatch get-metric-statistics --namespace AWS/EFS --metric-name BurstCreditBalance \
        --dimensions "Name=FileSystemId,Value=$FS" --statistics Minimum --period 1 \
        --start-time "$(date -u -d '-30 sec' +%FT%TZ)" --end-time "$(date -u -d '+5 sec' +%FT%TZ)" \
        --query 'sort_by(Datapoints, &Timestamp)[-1].Minimum' |
        awk '{ if ($1 == "None") print "?"; else printf "%.1f\n", $1 / 1048576 }'
}
invoke_many() {  # N invocations at once; prints one outcome each
    local n=$1 i
    for i in $(seq "$n"); do
        ( if command aws --endpoint-url "$SHOAL_ENDPOINT" lambda invoke --function-name "$NAME" \
              --cli-read-timeout 60 "$WORK/out.$i" --query FunctionError --output text \
              > "$WORK/err.$i" 2>&1; then
              if grep -q Unhandled "$WORK/err.$i"; then
                  echo "failed: $(cut -c1-90 "$WORK/out.$i")"
              else echo "ok: $(cat "$WORK/out.$i")"; fi
          else echo "refused: $(tail -1 "$WORK/err.$i")"; fi ) &
    done
    wait
}

step "1. A bursting file system (the default) with the libraries, and the function"
FS=$(aws efs create-file-system --creation-token "$NAME" --query FileSystemId)
AP=$(aws efs create-access-point --file-system-id "$FS" --posix-user Uid=1001,Gid=1001 \
      --root-directory 'Path=/libs,CreationInfo={OwnerUid=1001,OwnerGid=1001,Permissions=755}' \
      --query AccessPointId)
AP_ARN=$(aws efs describe-access-points --access-point-id "$AP" \
      --query 'AccessPoints[0].AccessPointArn')
MNT=$(mktemp -d)
shoal fs mount "$FS" "$MNT" --access-point "$AP"
for i in 0 1 2; do dd if=/dev/urandom of="$MNT/lib$i.so" bs=1M count=16 conv=fsync status=none; done
shoal fs unmount "$MNT"; rmdir "$MNT"; MNT=
TRUST='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
ROLE_ARN=$(aws iam create-role --role-name "$NAME-role" --assume-role-policy-document "$TRUST" \
      --query Role.Arn)
(cd "$HERE" && python3 -m zipfile -c "$WORK/function.zip" lambda_function.py)
aws lambda create-function --function-name "$NAME" --runtime "$RUNTIME" --role "$ROLE_ARN" \
    --handler lambda_function.handler --timeout 5 --zip-file "fileb://$WORK/function.zip" \
    --file-system-configs "Arn=$AP_ARN,LocalMountPath=/mnt/libs" > /dev/null
aws lambda wait function-active-v2 --function-name "$NAME"
echo "file system $FS; balance $(balance) MiB"
invoke_many 1

step "2. Load: every new environment reads 48 MiB at init (16 MiB metered)"
for n in 2 4 6 8; do
    invoke_many "$n" | sort | uniq -c
    echo "balance $(balance) MiB"
done

step "3. Reserved concurrency 0 stops the function; the credits recover"
aws lambda put-function-concurrency --function-name "$NAME" --reserved-concurrent-executions 0 \
    > /dev/null
invoke_many 1
for _ in 1 2 3; do sleep 5; echo "balance $(balance) MiB"; done

step "4. Provisioned throughput (64 MiB/s): cold starts are fast again"
aws efs update-file-system --file-system-id "$FS" --throughput-mode provisioned \
    --provisioned-throughput-in-mibps 64 --query ThroughputMode
aws lambda delete-function-concurrency --function-name "$NAME"
aws lambda update-function-configuration --function-name "$NAME" \
    --description "new environments" > /dev/null
aws lambda wait function-updated-v2 --function-name "$NAME"
sleep 2
invoke_many 6 | sort | uniq -c
