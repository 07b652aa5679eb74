# Sourced by the examples' scripts: the keys the AWS CLI signs with, found as the shoal CLI
# finds them, so nobody copies keys by hand:
#   1. $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, or $AWS_PROFILE, when set;
#   2. else the local server's root credentials, which `shoal serve` keeps in
#      <data dir>/credentials (0600, profile "shoal"; readable by root, who runs the server);
#   3. else shoal/shoal, the fixed keys of a throwaway server started with
#      SHOAL_ROOT_ACCESS_KEY_ID=shoal SHOAL_ROOT_SECRET_ACCESS_KEY=shoal.
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -z "${AWS_PROFILE:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        shoal_credentials=${SHOAL_DATA_DIR:-/var/lib/shoal}/credentials
    else
        shoal_credentials=${SHOAL_DATA_DIR:-$HOME/.shoal}/credentials
    fi
    if [ -r "$shoal_credentials" ]; then
        export AWS_SHARED_CREDENTIALS_FILE=$shoal_credentials AWS_PROFILE=shoal
    else
        export AWS_ACCESS_KEY_ID=shoal AWS_SECRET_ACCESS_KEY=shoal
    fi
    unset shoal_credentials
fi
