#include "auth/verify_pool.h"

#include <openssl/crypto.h>

#include "util/log.h"

namespace musqratt::auth {

VerifyPool::VerifyPool(VerifyPoolOptions options, Check check)
    : options_(options), check_(std::move(check)), backoff_(options.backoff) {
  unsigned n = options_.threads ? options_.threads : 1;
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
}

VerifyPool::~VerifyPool() { stop(); }

VerifyPool::Submit VerifyPool::submit(VerifyRequest request, Completion done) {
  const util::TimePoint now = util::now();
  AuthBackoff::Decision d;
  if (!request.address.empty()) d = backoff_.schedule(request.address, now);
  if (d.verdict == AuthBackoff::Verdict::Refuse) {
    LOG_WARN_LIMITED("auth.backoff", "refusing authentication of '%s' from %s without checking: too many failures from "
                     "that address (%u)", request.username.c_str(), request.address.c_str(),
                     backoff_.failures(request.address, now));
    OPENSSL_cleanse(request.password.data(), request.password.size());
    return Submit::Refused;
  }
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && jobs_.size() < options_.max_queue) {
      util::TimePoint at = d.verdict == AuthBackoff::Verdict::Later ? d.not_before : now;
      jobs_.push(Job{at, next_seq_++, now, std::move(request), std::move(done)});
      cv_.notify_one();
      return Submit::Queued;
    }
  }
  LOG_WARN_LIMITED("auth.busy", "refusing authentication of '%s' from %s: %zu checks already waiting",
                   request.username.c_str(), request.address.c_str(), options_.max_queue);
  OPENSSL_cleanse(request.password.data(), request.password.size());
  return Submit::Busy;
}

void VerifyPool::run() {
  std::unique_lock lock(mu_);
  while (true) {
    if (jobs_.empty()) {
      if (stopping_) return;
      cv_.wait(lock);
      continue;
    }
    if (!stopping_) {
      util::TimePoint due = jobs_.top().not_before;
      if (due > util::now()) {
        cv_.wait_until(lock, due);  // a sooner job or stop() wakes us earlier
        continue;
      }
    }
    // priority_queue::top() is const; the job is moved out right before pop().
    Job job = std::move(const_cast<Job&>(jobs_.top()));
    jobs_.pop();
    const bool cancelled = stopping_;
    lock.unlock();
    VerifyOutcome outcome;
    outcome.cancelled = cancelled;
    if (!cancelled) {
      const util::TimePoint started = util::now();
      outcome.delayed = std::chrono::duration_cast<util::Millis>(job.not_before > job.submitted ? job.not_before - job.submitted
                                                                                               : util::Millis(0));
      outcome.accepted = check_(job.request);
      if (!job.request.address.empty()) {
        if (outcome.accepted) backoff_.record_success(job.request.address);
        else backoff_.record_failure(job.request.address, started);
      }
      if (!outcome.accepted)
        LOG_DEBUG_LIMITED("auth.failure", "authentication failed for '%s' (client '%s') from %s",
                          job.request.username.c_str(), job.request.client_id.c_str(), job.request.address.c_str());
    }
    OPENSSL_cleanse(job.request.password.data(), job.request.password.size());
    job.done(outcome);
    lock.lock();
  }
}

void VerifyPool::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

size_t VerifyPool::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

}  // namespace musqratt::auth
