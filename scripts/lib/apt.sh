# Sourced by the setup scripts: `apt_install PKG...` installs the Debian packages that are missing
# (as root, or with sudo), updating the package lists once if the first try fails.
apt_install() {
  local missing=() pkg sudo=""
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
}
