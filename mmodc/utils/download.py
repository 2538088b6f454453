"""Download published checkpoints once into a cache, verified by sha256."""
import hashlib
import http.client
import logging
import os
import os.path as osp
import posixpath
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import BinaryIO, Optional

import torch
from mmengine.logging import print_log
from tqdm import tqdm

CHUNK_SIZE = 1 << 20
# ``<name>_<YYYYMMDD>-<sha256[:8]>.pth`` or ``<name>-<sha256[:8]>.pth``, as
# torch.hub and OpenMMLab's publish_model name them
HASH_IN_FILE_NAME = re.compile(r'-([a-f0-9]{8,})\.')
HASH_PREFIX = re.compile(r'[a-f0-9]{8,64}')


class DownloadError(RuntimeError):
    """A checkpoint could not be downloaded or did not verify."""


def default_cache_dir() -> str:
    """Torch hub's checkpoint cache (follows ``TORCH_HOME`` and
    :func:`torch.hub.set_dir`).

    Returns:
        str: ``<torch hub dir>/checkpoints``.
    """
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def url_file_name(url: str) -> str:
    """The last path component of a URL, without its query string.

    Args:
        url (str): The URL.

    Returns:
        str: The file name.
    """
    name = posixpath.basename(urllib.parse.urlparse(url).path)
    if name in ('', '.', '..'):
        raise ValueError(f'{url} names no file: give the URL of a file.')
    return name


def expected_hash_prefix(url: str, hash_prefix: Optional[str]) -> str:
    """The sha256 prefix a download must start with: ``hash_prefix``, else
    the one in the URL's file name.

    Args:
        url (str): The URL.
        hash_prefix (str, optional): The prefix given by the caller.

    Returns:
        str: At least 8 lowercase hex digits.
    """
    if hash_prefix is not None:
        if not HASH_PREFIX.fullmatch(hash_prefix.lower()):
            raise ValueError(
                f'hash_prefix {hash_prefix!r} for {url} is not a sha256 '
                'prefix: give 8 to 64 hex digits.')
        return hash_prefix.lower()
    match = HASH_IN_FILE_NAME.search(url_file_name(url))
    if match is None:
        raise ValueError(
            f'the file name of {url} carries no sha256 prefix (like '
            '"<name>_<YYYYMMDD>-<sha256[:8]>.pth"): pass hash_prefix.')
    return match.group(1)


def file_sha256(path: str) -> str:
    """The sha256 hex digest of a file.

    Args:
        path (str): The file.

    Returns:
        str: 64 hex digits.
    """
    sha256 = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(CHUNK_SIZE), b''):
            sha256.update(chunk)
    return sha256.hexdigest()


def place_by_hand_hint(target: str, hash_prefix: str) -> str:
    """What to do when this machine cannot download a file.

    Args:
        target (str): Where the file belongs in the cache.
        hash_prefix (str): The sha256 prefix the file must have.

    Returns:
        str: The advice, one sentence.
    """
    return (f'download it elsewhere and put it at {target} (its sha256 '
            f'must start with {hash_prefix}).')


def open_url(url: str, timeout: float,
             hint: str) -> http.client.HTTPResponse:
    """Open a URL for reading.

    Args:
        url (str): The URL.
        timeout (float): Seconds to wait for the server.
        hint (str): The advice ending a no-connection error.

    Returns:
        http.client.HTTPResponse: The open response.
    """
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise DownloadError(
            f'downloading {url} failed with HTTP {error.code} '
            f'({error.reason}): check the URL, or try again later if the '
            'server is failing.') from error
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(
            f'cannot download {url}: {error}. No network? Try again, or '
            f'{hint}') from error


def content_length(response: http.client.HTTPResponse) -> Optional[int]:
    """The size the server announces, if it does.

    Args:
        response (http.client.HTTPResponse): The open response.

    Returns:
        int, optional: The Content-Length, None if unknown.
    """
    length = response.headers.get('Content-Length')
    return int(length) if length and length.isdigit() else None


def broken_transfer(url: str,
                    received: int,
                    expected: Optional[int],
                    hint: str,
                    cause: Optional[Exception] = None) -> DownloadError:
    """The error for a download that ended before its last byte.

    Args:
        url (str): The URL.
        received (int): The bytes that arrived.
        expected (int, optional): The announced size, None if unknown.
        hint (str): The advice ending the message.
        cause (Exception, optional): What broke the transfer, if known.

    Returns:
        DownloadError: The error to raise.
    """
    of_expected = '' if expected is None else f' of {expected}'
    because = '' if cause is None else f' ({cause})'
    return DownloadError(
        f'the download of {url} broke off after {received}{of_expected} '
        f'bytes{because}. Try again, or {hint}')


def stream_to_file(url: str, file: BinaryIO, timeout: float, progress: bool,
                   hint: str) -> str:
    """Download a URL into an open file, hashing it on the way.

    Args:
        url (str): The URL.
        file (BinaryIO): The file to write.
        timeout (float): Seconds to wait for the server.
        progress (bool): Show a progress bar.
        hint (str): The advice ending a broken-transfer error.

    Returns:
        str: The sha256 hex digest of what was written.
    """
    sha256, received = hashlib.sha256(), 0
    with open_url(url, timeout, hint) as response:
        expected = content_length(response)
        with tqdm(total=expected, unit='B', unit_scale=True,
                  unit_divisor=1024, desc=url_file_name(url),
                  disable=not progress) as bar:
            try:
                for chunk in iter(lambda: response.read(CHUNK_SIZE), b''):
                    file.write(chunk)
                    sha256.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except http.client.IncompleteRead as error:
                raise broken_transfer(url, received + len(error.partial),
                                      expected, hint) from error
            except (OSError, http.client.HTTPException) as error:
                raise broken_transfer(url, received, expected, hint,
                                      error) from error
    if expected is not None and received < expected:
        raise broken_transfer(url, received, expected, hint)
    return sha256.hexdigest()


def check_digest(url: str, digest: str, hash_prefix: str) -> None:
    """Raise if a downloaded file's sha256 does not start with the expected
    prefix.

    Args:
        url (str): Where the file came from.
        digest (str): Its sha256 hex digest.
        hash_prefix (str): The expected prefix.
    """
    if not digest.startswith(hash_prefix):
        raise DownloadError(
            f'{url} failed verification: its sha256 is {digest}, expected '
            f'one starting with {hash_prefix}. The file on the server is '
            'damaged or not the published one; check the URL (or '
            'hash_prefix) and try again.')


def download_verified(url: str, target: str, hash_prefix: str,
                      progress: bool, timeout: float) -> None:
    """Download a URL to ``target`` through a temporary file that replaces
    ``target`` only once verified; nothing is left behind on failure.

    Args:
        url (str): The URL.
        target (str): The final path.
        hash_prefix (str): The sha256 prefix the file must have.
        progress (bool): Show a progress bar.
        timeout (float): Seconds to wait for the server.
    """
    directory, name = osp.split(target)
    hint = place_by_hand_hint(target, hash_prefix)
    partial = tempfile.NamedTemporaryFile(
        dir=directory, prefix=name + '.', suffix='.partial', delete=False)
    try:
        with partial:
            digest = stream_to_file(url, partial, timeout, progress, hint)
        check_digest(url, digest, hash_prefix)
        os.replace(partial.name, target)
    finally:
        if osp.exists(partial.name):
            os.remove(partial.name)


def download_checkpoint(url: str,
                        cache_dir: Optional[str] = None,
                        hash_prefix: Optional[str] = None,
                        progress: bool = True,
                        timeout: float = 60.) -> str:
    """Return the local path of the verified file behind url.

    The file is kept in ``cache_dir`` under the URL's file name; a cached
    file whose sha256 matches is used without network access, one that does
    not is downloaded again.

    Args:
        url (str): The URL of the file.
        cache_dir (str, optional): The cache directory, created if missing.
            Defaults to torch hub's checkpoint cache,
            ``<torch.hub.get_dir()>/checkpoints``.
        hash_prefix (str, optional): The start of the file's sha256 hex
            digest (at least 8 digits). Defaults to the one in the file
            name, ``<name>_<YYYYMMDD>-<sha256[:8]>.pth`` or
            ``<name>-<sha256[:8]>.pth``.
        progress (bool): Show a progress bar while downloading. Defaults to
            True.
        timeout (float): Seconds to wait for the server. Defaults to 60.

    Returns:
        str: The path of the verified local file.

    Raises:
        ValueError: Neither ``hash_prefix`` nor the file name gives a
            sha256 prefix.
        DownloadError: The download failed or did not verify.
    """
    prefix = expected_hash_prefix(url, hash_prefix)
    cache_dir = cache_dir or default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    target = osp.join(cache_dir, url_file_name(url))
    if osp.isfile(target):
        digest = file_sha256(target)
        if digest.startswith(prefix):
            return target
        print_log(
            f'{target} has sha256 {digest}, not one starting with {prefix}: '
            f'downloading {url} again.',
            logger='current',
            level=logging.WARNING)
    download_verified(url, target, prefix, progress, timeout)
    return target
