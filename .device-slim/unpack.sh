# Sourced at the start of a command on the GPU machine: puts node on PATH and node_modules in place.
mkdir -p .device/bin
[ -x .device/bin/node ] || { xz -dc .device/node.xz > .device/bin/node && chmod +x .device/bin/node; }
export PATH="$PWD/.device/bin:$PATH"
[ -d node_modules ] || [ ! -f .device/node_modules.tar.xz ] || tar -xJf .device/node_modules.tar.xz
node --version >/dev/null
