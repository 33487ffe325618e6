package io.deferredspans.sdk.internal;

import io.deferredspans.sdk.ExportFailure;

enum IgnoringExportListener implements ExportListener {
  INSTANCE;

  @Override
  public void onExported() {}

  @Override
  public void onExportFailed(ExportFailure failure) {}
}
