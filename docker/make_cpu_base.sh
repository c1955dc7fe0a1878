#!/usr/bin/env bash
# A CPU base image for Dockerfile.training, made without any container registry: Debian from its
# package mirror (debootstrap), a venv with torch / torchvision from pip, imported into Docker.
#
#   sudo docker/make_cpu_base.sh sam2-cpu-base
#   SAM2_BASE_IMAGE=sam2-cpu-base SAM2_BUILD_CUDA=0 NUM_GPUS=0 SAM2_DATASET=... \
#       ./run_training_docker.sh
#
# Needs root, debootstrap and docker. The torch install runs pip in the new root (chroot) with the
# caller's PIP_* variables (but PIP_CERT) and nothing else of its environment. Environment:
#   SAM2_DEBIAN_MIRROR  Debian mirror       (default: the one in /etc/apt/sources.list*, else
#                       http://deb.debian.org/debian)
#   SAM2_DEBIAN_SUITE   Debian release      (default bookworm: Python 3.11)
#   TORCH_PACKAGES      what pip installs   (default torch==2.14.1 torchvision==0.29.1, as `make`)
#   SAM2_PIP_BIND       host folders bound read-only at the same path during the torch install,
#                       e.g. local wheel indexes named in PIP_FIND_LINKS / PIP_EXTRA_INDEX_URL
#   SAM2_PIP_CERT       CA bundle for the image's pip (optional): only where https goes through an
#                       intercepting proxy; the image then trusts that proxy, so keep it local
#   SAM2_BASE_TMPFS     1: make the root in memory (a tmpfs, ~7 GB): faster, the disk then writes
#                       the 6 GB once (docker import), not twice                       (default 0)
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,20p' "$0"
    exit 0
fi
image=${1:-sam2-cpu-base:latest}
suite=${SAM2_DEBIAN_SUITE:-bookworm}
torch_packages=${TORCH_PACKAGES:-torch==2.14.1 torchvision==0.29.1}
venv=/opt/venv
image_path=$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rootfs=
mounted=()
in_memory=0

fail() {
    echo "make_cpu_base.sh: error: $*" >&2
    exit 2
}

log() {
    echo "make_cpu_base.sh: $* ($SECONDS s)" >&2
}

# The first Debian archive of apt's sources (one-line or deb822 format).
debian_mirror() {
    local sources uri options archive
    sources=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2> /dev/null || true)
    options='(\[[^]]*\][[:space:]]+)?'
    archive='https?://[^[:space:]]+/debian/?([[:space:]]|$)'
    uri=$(grep -oE "^(deb|URIs:)[[:space:]]+$options$archive" <<< "$sources" |
        grep -oE 'https?://[^[:space:]]+' | head -n 1) || true
    echo "${uri:-http://deb.debian.org/debian}"
}

bind_read_only() {
    mkdir -p "$rootfs$1"
    mount --bind "$1" "$rootfs$1"
    mounted+=("$rootfs$1")
    mount -o remount,bind,ro "$rootfs$1"
}

cleanup() {
    local index
    for ((index = ${#mounted[@]} - 1; index >= 0; index--)); do
        umount "${mounted[index]}" || umount -l "${mounted[index]}" || true
    done
    [[ -n "$rootfs" ]] || return 0
    ((!in_memory)) || umount "$rootfs" || umount -l "$rootfs" || true
    # Never delete through a mount that is still there.
    if findmnt -rno TARGET | grep -q "^$rootfs"; then
        echo "make_cpu_base.sh: $rootfs still has mounts: left in place" >&2
    else
        rm -rf "$rootfs"
    fi
}

install_torch() {
    local folder
    mount -t proc proc "$rootfs/proc"
    mounted+=("$rootfs/proc")
    for folder in ${SAM2_PIP_BIND:-}; do
        bind_read_only "$(realpath "$folder")"
    done
    if [[ -n "${SAM2_PIP_CERT:-}" ]]; then
        cp "$SAM2_PIP_CERT" "$rootfs/etc/pip-ca-bundle.crt"
        printf '[global]\ncert = /etc/pip-ca-bundle.crt\n' > "$rootfs/etc/pip.conf"
    fi
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    chroot "$rootfs" python3 -m venv "$venv"
    # Only the caller's PIP_* variables: the host's *_CA_BUNDLE paths do not hold in the new root.
    local pip_environment
    mapfile -t pip_environment < <(env | grep -E '^PIP_[A-Z_]+=' | grep -v '^PIP_CERT=' || true)
    # shellcheck disable=SC2086  # TORCH_PACKAGES is a list of requirements
    env -i PATH="$image_path" HOME=/root LANG=C.UTF-8 "${pip_environment[@]}" chroot "$rootfs" \
        pip install --no-cache-dir --disable-pip-version-check $torch_packages setuptools wheel
}

[[ $(id -u) == 0 ]] || fail "needs root (debootstrap, chroot, mount): run it with sudo"
command -v debootstrap > /dev/null || fail "debootstrap is missing: apt-get install debootstrap"
command -v docker > /dev/null || fail "docker is missing: install Docker"
if [[ -n "${SAM2_PIP_CERT:-}" && ! -r "$SAM2_PIP_CERT" ]]; then
    fail "SAM2_PIP_CERT=$SAM2_PIP_CERT is not readable: give the CA bundle of your proxy"
fi
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/sam2-cpu-base.XXXXXX")
if [[ "${SAM2_BASE_TMPFS:-0}" == 1 ]]; then
    mount -t tmpfs -o size=12g,mode=0755 sam2-cpu-base "$rootfs"
    in_memory=1
fi
mirror=${SAM2_DEBIAN_MIRROR:-$(debian_mirror)}
log "debootstrap $suite from $mirror"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror" > "$rootfs.debootstrap.log" 2>&1 ||
    fail "debootstrap failed: see $rootfs.debootstrap.log"
rm -f "$rootfs.debootstrap.log"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
log "installing $torch_packages"
install_torch
for ((index = ${#mounted[@]} - 1; index >= 0; index--)); do umount "${mounted[index]}"; done
mounted=()
rm -rf "$rootfs/root/.cache"
log "importing into docker as $image"
tar -C "$rootfs" --numeric-owner -c . |
    docker import --change "ENV PATH=$image_path" --change "ENV LANG=C.UTF-8" \
        --change 'CMD ["python3"]' - "$image" > /dev/null
log "done: $image"
