#!/usr/bin/env bash
# Neovim 0.12 and Helix 25.07.1 for the editor end-to-end tests, from Debian unstable's own
# packages. They need a newer glibc than this system's, so nothing is installed: the .debs
# (sid's libc and loader among them) are fetched with `apt-get download` through an apt
# state of their own (.cache/apt-sid; the system's sources and lists stay untouched),
# checked against the versions and SHA256 sums pinned below and unpacked into
# .cache/sid-root. patchelf points the two programs at sid's loader and libraries there (so
# Neovim's TUI can start its own `nvim --embed`, which a run through the loader could not);
# .cache/sid-root/bin/nvim and hx run them with their runtime files. tmux drives the TUIs
# in the tests. Called by scripts/setup.sh; safe to run again (nothing is
# fetched while the unpacked packages match the pins).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt.sh
ROOT=$PWD

# Sid moves: when a pinned version is gone from the mirror, `apt-get download` says so;
# update the pin and its sum from `apt-cache show` (run with the options below).
PINS=(
  "neovim=0.12.4-1 f2c0bbf2530cd36d51aad9a72beb75aafb15e51dae1fddd1e3ab3db5b543cbd9"
  "neovim-runtime=0.12.4-1 a0ce01348d6c7f018be74b3d29c3c4114332a250d81ea2061ef836429c8300e3"
  "hx=25.07.1+20260723+ds+~0.3.3+ds+~0.4.0+20260627+ds-3 1cdce694e10473a0c86021f1ecad9b6d479bf304506ea772c2f8aa8b2f8f6979"
  "libc6=2.43-7 5c71715c51103beb4fbba9fe9f8dff604af6610dfa71c70bff342f54a7860803"
  "libgcc-s1=16.2.0-4 d251ea642c3795e8723ac2b9eeebe511467ca04590ba70f3d555a7616787d7e3"
  "libluajit-5.1-2=2.1.0+openresty20251030-1+b2 99cec1952fce870c4302ed94e36dfb239fb7f34d268172df4e80d4ee3bd13a6e"
  "libtree-sitter0.26=0.26.11-1 0b9a68f1d790b7999beff053711702e5a450a643e8155c0ad10cd37b08ca66e7"
  "libunibilium4=2.1.4-1 f6fc622c8df65eb27cf952c5f9b5f24d327b233445fae223c7666fe9fd9c279f"
  "libutf8proc3=2.11.3-2 abeee568cd28106f46c41653fe2a40643e4949c5865a002ee3b3494b8d35735e"
  "libuv1t64=1.53.0-1 3646aa5b8513dc57ace24dfe6582ba5666e141eb876b7494e9008776c9d41999"
  "lua-lpeg=1.1.0-4 2e803f45c17b2091ea8691aee658d268d16c66406e903269d5f3bb7b0b71c415"
  "lua-luv=1.51.0-1-1+b1 50db3ce63d74536505f9376da52698d15dbc80c99e139685baa4ff64587a2863"
)
NVIM_VERSION="NVIM v0.12.4"
HX_VERSION="helix 25.07.1"

SID=.cache/sid-root
DEBS=.cache/debs
APT=.cache/apt-sid

apt_install tmux patchelf fonts-dejavu-core

pinned=$(printf '%s\n' "${PINS[@]}")
if [ -f "$SID/pins" ] && [ "$(cat "$SID/pins")" = "$pinned" ] \
  && "$SID/bin/nvim" --version 2>/dev/null | grep -qx "$NVIM_VERSION" \
  && "$SID/bin/hx" --version 2>/dev/null | grep -q "^$HX_VERSION"; then
  echo "Neovim 0.12 and Helix: already in $SID"
  exit 0
fi

# Sid from the mirror this machine already uses for Debian, with Debian's own keyring.
mirror=$(sed -n 's/^URIs: *\(\S*\/debian\)\/\?$/\1/p; s/^deb \(\[[^]]*\] \)\?\(\S*\/debian\)\/\? .*/\2/p' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)
mirror=${DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$DEBS"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" > "$APT/sources.list"
apt_opts=(
  -q -o "Dir::Etc::sourcelist=$ROOT/$APT/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$ROOT/$APT/lists" -o "Dir::Cache=$ROOT/$APT/cache"
  -o APT::Get::List-Cleanup=0 -o "APT::Sandbox::User=$(id -un)"
)

debs=()
need_lists=1
for pin in "${PINS[@]}"; do
  package=${pin%% *} sum=${pin##* }
  name=${package%%=*} version=${package#*=}
  deb="$DEBS/${name}_${version//:/%3a}.deb"
  if ! echo "$sum  $deb" | sha256sum -c --status 2>/dev/null; then
    if [ $need_lists = 1 ]; then
      apt-get "${apt_opts[@]}" update >/dev/null
      need_lists=0
    fi
    rm -f "$DEBS/${name}_"*.deb
    (cd "$DEBS" && apt-get "${apt_opts[@]}" download "$package" >/dev/null) || {
      echo "setup-editors: $package is no longer in Debian sid; pin the version it has now" \
        "(apt-cache show $name with the options in this script) and its SHA256" >&2
      exit 1
    }
    mv "$DEBS/${name}_"*.deb "$deb"
    echo "$sum  $deb" | sha256sum -c --status || {
      echo "setup-editors: $deb does not match its pinned SHA256" >&2; exit 1; }
  fi
  debs+=("$deb")
done

rm -rf "$SID" && mkdir -p "$SID/bin"
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$SID"; done
# The programs load sid's libc through sid's loader; what they start runs as usual.
lib=$(cd "$SID" && pwd -P)/usr/lib/x86_64-linux-gnu
wrapper() {  # program, the variable naming its runtime folder, that folder
  patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$SID/usr/bin/$1"
  cat > "$SID/bin/$1" <<EOF
#!/bin/sh
R=\$(cd "\$(dirname "\$0")/.." && pwd)
export $2="\$R/$3"
exec "\$R/usr/bin/$1" "\$@"
EOF
  chmod +x "$SID/bin/$1"
}
wrapper nvim VIMRUNTIME usr/share/nvim/runtime
wrapper hx HELIX_RUNTIME usr/lib/hx/runtime
"$SID/bin/nvim" --version | grep -qx "$NVIM_VERSION" || { echo "setup-editors: $SID/bin/nvim does not run" >&2; exit 1; }
"$SID/bin/hx" --version | grep -q "^$HX_VERSION" || { echo "setup-editors: $SID/bin/hx does not run" >&2; exit 1; }
echo "$pinned" > "$SID/pins"
echo "Neovim 0.12 and Helix from Debian sid: $SID/bin/nvim, $SID/bin/hx"
