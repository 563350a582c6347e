"""The container's runtime selection: the runtime found (``auto``: detected), one adapter per
kind on it, closed by ``shutdown_resources()``, and the add-on images it pulls (SPEC section 10)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

from dependency_injector import providers

from flwd.entrypoints.lazy_module import Lazy

# imported when first provided: `flwd :jobs` and `flwd :plan` never load a runtime SDK
if TYPE_CHECKING:
    from flwd.adapters import docker_addons, docker_runtime, podman_addons, podman_runtime
    from flwd.adapters import runtime_detect
    from flwd.ports.runtime import ContainerRuntime

    # found (the kind and the address), runtime (the adapter of that kind), addon_images (on
    # it); a plain tuple, as a NamedTuple's class would cost every start-up
    RuntimeProviders = tuple[providers.Resource[runtime_detect.RuntimeEndpoint],
                             providers.Selector[Any], providers.Selector[Any]]
else:
    docker_addons, docker_runtime, podman_addons, podman_runtime, runtime_detect = (
        Lazy(f"flwd.adapters.{name}") for name in (
            "docker_addons", "docker_runtime", "podman_addons", "podman_runtime",
            "runtime_detect"))


def opened(build: Callable[..., ContainerRuntime], *args: Any, **kwargs: Any
           ) -> Iterator[ContainerRuntime]:
    """A runtime adapter closed (with any private Podman service) by
    ``container.shutdown_resources()``."""
    runtime = build(*args, **kwargs)
    try:
        yield runtime
    finally:
        runtime.close()


def runtime_providers(config: providers.Configuration, env: providers.Provider[Any]
                      ) -> RuntimeProviders:
    """The runtime of ``config.runtime`` (looked for in *env*), one selector line per kind:
    ``(runtime_found, runtime, addon_images)``."""
    found = providers.Resource(runtime_detect.find_runtime, kind=config.runtime, env=env)
    runtime = providers.Selector(
        found.provided.kind,
        podman=providers.Resource(opened, podman_runtime.PodmanRuntime, found.provided.url,
                                  service=found.provided.service),
        docker=providers.Resource(opened, docker_runtime.DockerRuntime,
                                  base_url=found.provided.url),
    )
    addon_images = providers.Selector(
        found.provided.kind,
        podman=providers.Singleton(podman_addons.PodmanAddonImages, runtime=runtime),
        docker=providers.Singleton(docker_addons.DockerAddonImages, runtime=runtime),
    )
    return found, runtime, addon_images
