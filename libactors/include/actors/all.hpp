#pragma once
/// @file all.hpp
/// The whole public API of libactors.

#include <actors/actor.hpp>
#include <actors/spawn.hpp>
#include <actors/down_reason.hpp>
#include <actors/mailbox.hpp>
#include <actors/actor_pool.hpp>
#include <actors/supervisor.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/managed.hpp>
#include <actors/manager.hpp>
#include <actors/node.hpp>
#include <actors/none.hpp>
#include <actors/executor.hpp>
#include <actors/future.hpp>
#include <actors/future_source.hpp>
#include <actors/imap.hpp>
#include <actors/listener.hpp>
#include <actors/pipe.hpp>
#include <actors/pool.hpp>
#include <actors/pool_options.hpp>
#include <actors/process.hpp>
#include <actors/progress.hpp>
#include <actors/queue.hpp>
#include <actors/shared.hpp>
#include <actors/sync.hpp>
#include <actors/thread.hpp>
#include <actors/time.hpp>
#include <actors/wait.hpp>
