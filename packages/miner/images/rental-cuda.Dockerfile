# Rental image for GPU hosts: the same key-only sshd setup on a CUDA runtime base. Build it only on a machine that
# has the NVIDIA container runtime and a local CUDA base image (scripts/build-images.sh does so when
# CMESH_CUDA_BASE names an image present in the local Docker; nothing is pulled from a registry by that script).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server procps ca-certificates \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && mkdir -p /run/sshd /root/.ssh /workspace \
 && chmod 700 /root/.ssh
COPY sshd_config /etc/ssh/sshd_config
COPY rental-init /usr/local/sbin/cmesh-rental-init
RUN chmod 0644 /etc/ssh/sshd_config && chmod 0755 /usr/local/sbin/cmesh-rental-init
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /workspace
EXPOSE 22
CMD ["/usr/local/sbin/cmesh-rental-init"]
