package io.deferredspans.sdk;

enum IgnoringExportListener implements ExportListener {
  INSTANCE;

  @Override
  public void onExported() {}

  @Override
  public void onExportFailed(ExportFailure failure) {}
}
