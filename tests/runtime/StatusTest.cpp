// Tests the C API's status objects and version string.
#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace {

TEST(RuntimeStatus, OkIsNull) {
  tern_status_t status = tern_status_create(TERN_STATUS_OK, "ignored");
  EXPECT_TRUE(tern_status_ok(status));
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_OK);
  EXPECT_STREQ(tern_status_message(status), "");
  tern_status_free(status);
}

TEST(RuntimeStatus, CarriesCodeAndACopyOfTheMessage) {
  std::string message = "model.tern: section 'weights' checksum mismatch";
  tern_status_t status = tern_status_create(TERN_STATUS_DATA_LOSS, message.c_str());
  message.assign(message.size(), 'x'); // the status must own its copy
  ASSERT_FALSE(tern_status_ok(status));
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_DATA_LOSS);
  EXPECT_STREQ(tern_status_message(status), "model.tern: section 'weights' checksum mismatch");
  tern_status_free(status);
}

TEST(RuntimeStatus, NullMessageBecomesEmpty) {
  tern_status_t status = tern_status_create(TERN_STATUS_INTERNAL, nullptr);
  EXPECT_STREQ(tern_status_message(status), "");
  tern_status_free(status);
}

TEST(RuntimeStatus, CodeNamesAreCanonical) {
  EXPECT_STREQ(tern_status_code_name(TERN_STATUS_OK), "OK");
  EXPECT_STREQ(tern_status_code_name(TERN_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_STREQ(tern_status_code_name(TERN_STATUS_DATA_LOSS), "DATA_LOSS");
  EXPECT_STREQ(tern_status_code_name(TERN_STATUS_UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(tern_status_code_name(static_cast<tern_status_code_t>(99)), "UNKNOWN");
}

TEST(RuntimeVersion, IsMajorMinorPatch) {
  const char* version = tern_version();
  ASSERT_NE(version, nullptr);
  int dots = 0;
  for (const char* p = version; *p; ++p) {
    if (*p == '.')
      ++dots;
    else
      EXPECT_TRUE(*p >= '0' && *p <= '9') << version;
  }
  EXPECT_EQ(dots, 2) << version;
}

} // namespace
