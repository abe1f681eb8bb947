"""Drives `xlate serve` with the real LibreTranslate client (libretranslatepy, from PyPI).

Usage: python libretranslatepy_client.py URL API_KEY TEXT...
Prints one JSON object: the languages the client read, each TEXT's en→de translation, what a wrong key and
/detect gave (status and error). ServerTests compares the translations with `xlate`'s own output.
"""
import json
import sys
import urllib.error

from libretranslatepy import LibreTranslateAPI


def http_error(call):
    try:
        call()
    except urllib.error.HTTPError as error:
        return {"status": error.code, "error": json.loads(error.read().decode())["error"]}
    return None


def main():
    url, key, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = LibreTranslateAPI(url, api_key=key)
    result = {
        "languages": client.languages(),  # a GET with a form body
        "translations": [client.translate(text, "en", "de") for text in texts],
        "wrong_key": http_error(lambda: LibreTranslateAPI(url, api_key="wrong").translate(texts[0], "en", "de")),
        "detect": http_error(lambda: client.detect(texts[0])),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
