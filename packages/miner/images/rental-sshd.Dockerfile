# Rental base image: a Debian bookworm userland with OpenSSH, key-only login.
# Built by scripts/build-images.sh on top of computemesh/debian:bookworm, which that script makes with debootstrap
# (no image registry is involved). Host keys are NOT baked in: the miner writes a fresh host key and the renter's
# authorized_keys into each container before starting it, and returns the host key to the renter for pinning.
ARG BASE_IMAGE=computemesh/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server procps ca-certificates \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && mkdir -p /run/sshd /root/.ssh /workspace \
 && chmod 700 /root/.ssh
COPY sshd_config /etc/ssh/sshd_config
COPY rental-init /usr/local/sbin/cmesh-rental-init
RUN chmod 0644 /etc/ssh/sshd_config && chmod 0755 /usr/local/sbin/cmesh-rental-init
WORKDIR /workspace
EXPOSE 22
CMD ["/usr/local/sbin/cmesh-rental-init"]
