"""jupyter-server configuration of every Shuyu workspace (passed with ``--config``)."""

c = get_config()  # noqa: F821 - provided by the config loader

c.ServerApp.kernel_spec_manager_class = "kernels.kernelspec.ShuyuKernelSpecManager"
c.MappingKernelManager.default_kernel_name = "shuyu"
c.ServerApp.kernel_websocket_connection_class = "kernels.exec_audit.AuditedWebsocketConnection"
c.ServerApp.contents_manager_class = "kernels.downloads.WorkspaceContentsManager"
c.ContentsManager.files_handler_class = "kernels.downloads.DownloadsDisabledHandler"
c.ServerApp.jpserver_extensions = {"kernels.server_extension": True}
# The extension is the workspace's guard (browser session only, no downloads, audited saves): if
# it, or any other, fails to load, the server stops instead of serving without it.
c.ServerApp.reraise_server_extension_failures = True
# A terminal would run commands the execution audit does not see.
c.ServerApp.terminals_enabled = False
c.ServerApp.root_dir = "/home/workspace"
# Only what a desensitized workspace needs: no language-server scanning, no terminals, and no
# extension manager that would try to install packages from the internet.
c.ServerApp.jpserver_extensions.update({"jupyter_lsp": False, "jupyter_server_terminals": False})
c.LabApp.extension_manager = "readonly"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# Kernels talk to their server over Unix sockets in the staff member's private runtime folder, not
# over loopback TCP ports: colleagues share their tenant's network namespace, so TCP ports could
# collide between their servers and would be reachable from a colleague's workspace.
c.KernelManager.transport = "ipc"
