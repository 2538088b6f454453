"""download_checkpoint against a real HTTP server on 127.0.0.1, and
tools/model_converters/publish_model.py, whose files it verifies."""
import contextlib
import datetime
import hashlib
import importlib.util
import logging
import os.path as osp
import random
import re
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Dict, Iterator, List

import numpy as np
import pytest
import torch
from conftest import REPO
from http_files import Behaviour, body, send_head, serve
from mmengine.logging import MMLogger
from tiny_setup import free_port

from mmodc.utils import DownloadError, download_checkpoint

PUBLISH_TOOL = osp.join(REPO, 'tools', 'model_converters', 'publish_model.py')
CONTENT = bytes(range(256)) * 10000  # 2.5 MB: several chunks
SHA256 = hashlib.sha256(CONTENT).hexdigest()


class FileServer:
    """What the test server answers (URL path -> behaviour) and how often
    each path was requested."""

    def __init__(self) -> None:
        self.base_url = ''
        self.routes: Dict[str, Behaviour] = {}
        self.hits: Counter = Counter()

    def serve(self, path: str, behaviour: Behaviour) -> str:
        """Answer GET ``path`` with ``behaviour``; return its URL."""
        self.routes[path] = behaviour
        return self.base_url + path


@pytest.fixture(scope='module')
def server() -> Iterator[FileServer]:
    """A threaded HTTP server on 127.0.0.1; routes ignore the query
    string, unknown paths get 404."""
    files = FileServer()
    with serve(files.routes, files.hits) as base_url:
        files.base_url = base_url
        yield files


def truncated_body(content: bytes) -> Behaviour:
    """Announce more bytes than ``content``, send it, close."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        send_head(handler, {'Content-Length': str(len(content) + 1000)})
        handler.wfile.write(content)

    return behaviour


def truncated_chunks(content: bytes) -> Behaviour:
    """Send ``content`` as one chunk of a chunked body that never ends
    (http.client raises IncompleteRead)."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        send_head(handler, {'Transfer-Encoding': 'chunked'})
        handler.wfile.write(b'%x\r\n%s\r\n' % (len(content), content))

    return behaviour


def silent(handler: BaseHTTPRequestHandler) -> None:
    """Answer nothing for longer than the client waits."""
    time.sleep(1)


def stalled(handler: BaseHTTPRequestHandler) -> None:
    """Send the head and a few bytes, then nothing for longer than the
    client waits."""
    send_head(handler, {'Content-Length': str(len(CONTENT))})
    handler.wfile.write(CONTENT[:1000])
    time.sleep(1)


def files_in(folder: Path) -> List[str]:
    return sorted(path.name for path in folder.iterdir())


def failed_download(url: str, cache: Path, **kwargs) -> str:
    """Download ``url`` into ``cache`` (no progress bar), which must raise
    a DownloadError naming the URL and leave the cache as it was.

    Args:
        url (str): The URL.
        cache (Path): The cache directory (existing).
        **kwargs: More arguments of :func:`download_checkpoint`.

    Returns:
        str: The error message.
    """
    before = files_in(cache)
    with pytest.raises(DownloadError) as error:
        download_checkpoint(url, str(cache), progress=False, **kwargs)
    message = str(error.value)
    assert url in message
    assert files_in(cache) == before
    return message


@contextlib.contextmanager
def mmengine_warnings() -> Iterator[List[str]]:
    """The warnings logged to mmengine's current logger meanwhile."""
    messages: List[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def test_download_writes_the_file_with_a_progress_bar(server, tmp_path,
                                                      capsys):
    name = f'odc_20240102-{SHA256[:8]}.pth'
    url = server.serve(f'/good/{name}', body(CONTENT))
    path = download_checkpoint(url + '?raw=1', str(tmp_path / 'cache'))
    assert path == str(tmp_path / 'cache' / name)
    assert Path(path).read_bytes() == CONTENT
    assert files_in(tmp_path / 'cache') == [name]
    bar = capsys.readouterr().err
    assert name in bar and '100%' in bar and '2.44M' in bar


def test_no_progress_bar_when_progress_is_false(server, tmp_path, capsys):
    url = server.serve(f'/quiet/odc-{SHA256[:8]}.pth', body(CONTENT))
    download_checkpoint(url, str(tmp_path), progress=False)
    assert capsys.readouterr().err == ''


def test_cached_file_is_used_without_a_request(server, tmp_path):
    path = f'/cached/odc-{SHA256[:8]}.pth'
    url = server.serve(path, body(CONTENT))
    first = download_checkpoint(url, str(tmp_path), progress=False)
    assert download_checkpoint(url, str(tmp_path)) == first
    assert server.hits[path] == 1


def test_file_placed_by_hand_is_used_without_a_request(server, tmp_path):
    name = f'odc-{SHA256[:8]}.pth'
    (tmp_path / name).write_bytes(CONTENT)
    url = f'{server.base_url}/by-hand/{name}'  # the server would answer 404
    assert download_checkpoint(url, str(tmp_path)) == str(tmp_path / name)
    assert server.hits[f'/by-hand/{name}'] == 0


def test_stale_cached_file_is_downloaded_again(server, tmp_path):
    name = f'odc-{SHA256[:8]}.pth'
    (tmp_path / name).write_bytes(b'damaged')
    url = server.serve(f'/stale/{name}', body(CONTENT))
    with mmengine_warnings() as warnings:
        path = download_checkpoint(url, str(tmp_path), progress=False)
    assert Path(path).read_bytes() == CONTENT
    assert server.hits[f'/stale/{name}'] == 1
    assert files_in(tmp_path) == [name]
    assert len(warnings) == 1
    assert str(tmp_path / name) in warnings[0] and url in warnings[0]
    assert hashlib.sha256(b'damaged').hexdigest() in warnings[0]


def test_stale_cached_file_stays_until_a_download_verifies(server, tmp_path):
    name = f'odc-{SHA256[:8]}.pth'
    (tmp_path / name).write_bytes(b'damaged')
    url = server.serve(f'/stale-bad/{name}', body(CONTENT[:-1]))
    failed_download(url, tmp_path)
    assert files_in(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == b'damaged'


def test_hash_prefix_argument_verifies_a_plain_file_name(server, tmp_path):
    url = server.serve('/plain/odc.pth', body(CONTENT))
    path = download_checkpoint(
        url, str(tmp_path), hash_prefix=SHA256[:10].upper(), progress=False)
    assert Path(path).read_bytes() == CONTENT


def test_corrupted_download_is_rejected_and_removed(server, tmp_path):
    url = server.serve(f'/corrupted/odc-{SHA256[:8]}.pth',
                       body(CONTENT[:-1] + b'?'))
    message = failed_download(url, tmp_path)
    assert SHA256[:8] in message
    assert hashlib.sha256(CONTENT[:-1] + b'?').hexdigest() in message


@pytest.mark.parametrize('behaviour', [truncated_body, truncated_chunks])
def test_truncated_download_is_rejected_and_removed(server, tmp_path,
                                                    behaviour):
    url = server.serve(f'/{behaviour.__name__}/odc-{SHA256[:8]}.pth',
                       behaviour(CONTENT[:300000]))
    message = failed_download(url, tmp_path)
    assert '300000' in message
    assert str(tmp_path / f'odc-{SHA256[:8]}.pth') in message


def test_http_error_names_the_url_and_status(server, tmp_path):
    url = f'{server.base_url}/missing/odc-{SHA256[:8]}.pth'
    assert '404' in failed_download(url, tmp_path)


def test_no_server_says_where_to_put_the_file(tmp_path):
    url = f'http://127.0.0.1:{free_port()}/odc-{SHA256[:8]}.pth'
    message = failed_download(url, tmp_path)
    assert 'No network?' in message
    assert str(tmp_path / f'odc-{SHA256[:8]}.pth') in message


@pytest.mark.parametrize('behaviour', [silent, stalled])
def test_server_too_slow_times_out(server, tmp_path, behaviour):
    url = server.serve(f'/{behaviour.__name__}/odc-{SHA256[:8]}.pth',
                       behaviour)
    started = time.monotonic()
    message = failed_download(url, tmp_path, timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert 'timed out' in message


@pytest.mark.parametrize('url,hash_prefix', [
    ('http://127.0.0.1:1/odc_epoch_8.pth?v=-abcdef12.', None),
    ('http://127.0.0.1:1/odc-abc12.pth', None),
    ('http://127.0.0.1:1/odc.pth', 'not-hex!'),
])
def test_no_hash_prefix_is_a_value_error(tmp_path, url, hash_prefix):
    with pytest.raises(ValueError, match='hash_prefix') as error:
        download_checkpoint(url, str(tmp_path / 'cache'), hash_prefix)
    assert url in str(error.value)
    assert not (tmp_path / 'cache').exists()


@pytest.fixture
def hub_dir_unset(monkeypatch):
    """torch.hub with no set_dir() in effect; restored afterwards."""
    # torch.hub keeps set_dir()'s directory here (None: follow TORCH_HOME)
    monkeypatch.setattr(torch.hub, '_hub_dir', None)


def test_default_cache_follows_torch_hub_set_dir(server, tmp_path,
                                                 hub_dir_unset):
    name = f'odc-{SHA256[:8]}.pth'
    url = server.serve(f'/hub/{name}', body(CONTENT))
    torch.hub.set_dir(str(tmp_path / 'hub'))
    path = download_checkpoint(url, progress=False)
    assert path == str(tmp_path / 'hub' / 'checkpoints' / name)
    assert Path(path).read_bytes() == CONTENT


def test_default_cache_follows_torch_home(server, tmp_path, monkeypatch,
                                          hub_dir_unset):
    name = f'odc-{SHA256[:8]}.pth'
    url = server.serve(f'/torch-home/{name}', body(CONTENT))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'home'))
    path = download_checkpoint(url, progress=False)
    assert path == str(tmp_path / 'home' / 'hub' / 'checkpoints' / name)
    assert Path(path).read_bytes() == CONTENT


@pytest.fixture(scope='module')
def publish_model():
    """The publish tool as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location('publish_model',
                                                  PUBLISH_TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def training_checkpoint() -> dict:
    """A small ODC training checkpoint as MMEngine's Runner saves it, with
    the random states of mmodc's RandomStatesHook (numpy's among them)."""
    return dict(
        meta=dict(
            epoch=8,
            iter=1880,
            experiment_name='odc_tiny',
            random_states=dict(
                torch=torch.get_rng_state(),
                numpy=np.random.get_state(),
                python=random.getstate())),
        state_dict={
            'backbone.conv1.weight': torch.randn(4, 3, 3, 3),
            'head.fc.bias': torch.randn(10),
            'memory_bank.feature_bank': torch.randn(64, 8),
            'memory_bank.label_bank': torch.arange(64) % 10,
        },
        optimizer=dict(state={}, param_groups=[dict(lr=0.06)]),
        param_schedulers=[dict(last_epoch=8)],
        message_hub=dict(log_scalars={}))


@pytest.mark.parametrize('no_memory', [False, True])
def test_published_model_downloads_and_verifies(server, tmp_path,
                                                publish_model, no_memory):
    trained = training_checkpoint()
    torch.save(trained, tmp_path / 'epoch_8.pth')
    published = publish_model([
        str(tmp_path / 'epoch_8.pth'),
        str(tmp_path / 'out' / 'odc_tiny.pth')
    ] + ['--no-memory'] * no_memory)

    name = osp.basename(published)
    match = re.fullmatch(r'odc_tiny_(\d{8})-([0-9a-f]{8})\.pth', name)
    assert match, name
    assert match.group(1) == f'{datetime.date.today():%Y%m%d}'
    assert files_in(tmp_path / 'out') == [name]
    data = Path(published).read_bytes()
    assert hashlib.sha256(data).hexdigest().startswith(match.group(2))

    url = server.serve(f'/zoo/{no_memory}/{name}', body(data))
    path = download_checkpoint(url, str(tmp_path / 'cache'), progress=False)
    # as downloads are loaded (mmodc.apis)
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert 'random_states' not in checkpoint['meta']
    kept = [key for key in trained['state_dict']
            if not (no_memory and key.startswith('memory_bank.'))]
    assert list(checkpoint['state_dict']) == kept
    for key in kept:
        assert torch.equal(checkpoint['state_dict'][key],
                           trained['state_dict'][key])
    assert checkpoint['meta'].get('memory_bank_dropped', False) == no_memory
    assert checkpoint['meta']['epoch'] == 8


def test_publish_refuses_what_a_download_could_not_load(
        tmp_path, capsys, publish_model):
    """An object in meta that weights_only refuses stops publishing (the
    download would not load); nothing is written."""
    trained = training_checkpoint()
    trained['meta']['class_counts'] = np.arange(3)
    torch.save(trained, tmp_path / 'epoch_8.pth')
    with pytest.raises(SystemExit) as exit_:
        publish_model([str(tmp_path / 'epoch_8.pth'),
                       str(tmp_path / 'out' / 'odc.pth')])
    assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert 'weights_only' in message and 'Unsupported global' in message
    assert files_in(tmp_path / 'out') == []


@pytest.mark.parametrize('content,complaint', [
    (None, 'not found'),
    ([1, 2], 'holds a list'),
    (dict(model=1), "its keys are ['model']"),
    (b'not a pickle', 'torch.load failed'),
])
def test_publish_rejects_what_is_no_training_checkpoint(
        tmp_path, capsys, publish_model, content, complaint):
    in_file = tmp_path / 'epoch_8.pth'
    if isinstance(content, bytes):
        in_file.write_bytes(content)
    elif content is not None:
        torch.save(content, in_file)
    with pytest.raises(SystemExit) as exit_:
        publish_model([str(in_file), str(tmp_path / 'odc.pth')])
    assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert str(in_file) in message and complaint in message
    assert not (tmp_path / 'odc.pth').exists()


def test_publish_refuses_to_overwrite_its_input(tmp_path, capsys,
                                                publish_model):
    torch.save(training_checkpoint(), tmp_path / 'epoch_8.pth')
    with pytest.raises(SystemExit):
        publish_model([str(tmp_path / 'epoch_8.pth')] * 2)
    assert 'is IN_FILE' in capsys.readouterr().err
    assert files_in(tmp_path) == ['epoch_8.pth']
