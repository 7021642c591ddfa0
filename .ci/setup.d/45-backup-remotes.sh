# Off-site copies of backups (tests/integration/backup/test_remotes.py): a real
# OpenSSH server (sshd started by the tests on 127.0.0.1), ssh/sftp clients and
# rsync. The S3 server (moto[server]) and boto3 come from pyproject.toml.
remote_pkgs=()
[ -x /usr/sbin/sshd ] || remote_pkgs+=(openssh-server)
command -v ssh >/dev/null 2>&1 || remote_pkgs+=(openssh-client)
command -v rsync >/dev/null 2>&1 || remote_pkgs+=(rsync)
ci_apt_install "${remote_pkgs[@]}"
mkdir -p /run/sshd  # sshd's privilege separation directory
