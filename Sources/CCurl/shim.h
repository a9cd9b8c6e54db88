#include <curl/curl.h>

// curl_easy_setopt is variadic, which Swift cannot call: typed wrappers.
static inline CURLcode authd_curl_setopt_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}
static inline CURLcode authd_curl_setopt_string(CURL *curl, CURLoption option, const char *value) {
    return curl_easy_setopt(curl, option, value);
}
static inline CURLcode authd_curl_setopt_pointer(CURL *curl, CURLoption option, void *value) {
    return curl_easy_setopt(curl, option, value);
}
static inline CURLcode authd_curl_setopt_read_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(curl, CURLOPT_READFUNCTION, callback);
}
static inline CURLcode authd_curl_getinfo_long(CURL *curl, CURLINFO info, long *value) {
    return curl_easy_getinfo(curl, info, value);
}

// CURL_GLOBAL_DEFAULT is a composite macro Swift does not import.
static inline CURLcode authd_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}
